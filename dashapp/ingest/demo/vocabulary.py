"""Static vocabulary of the demo data: calendar bounds, countries, product names, prices, packs,
non-product stock codes, write-off notes, seasonality, and the product catalogue builder.

Pure module (numpy only). The tables mimic the real UCI Online Retail II file; the *order* of
every table matters (random draws index into them), so reordering one changes the generated data
and requires bumping ``DEMO_VERSION``.
"""

from __future__ import annotations

import numpy as np

START = np.datetime64("2009-12-01", "D")
END = np.datetime64("2011-12-09", "D")  # inclusive; trading stops at 12:50
LAST_MINUTE = 12 * 60 + 50
FIRST_INVOICE = 489434
FIRST_CUSTOMER_ID = 12346

# (country, relative weight among the non-UK customers)
COUNTRIES = (
    ("Germany", 107),
    ("France", 95),
    ("EIRE", 5),
    ("Spain", 41),
    ("Belgium", 29),
    ("Netherlands", 23),
    ("Switzerland", 25),
    ("Portugal", 24),
    ("Italy", 17),
    ("Australia", 15),
    ("Finland", 14),
    ("Sweden", 19),
    ("Norway", 12),
    ("Denmark", 12),
    ("Austria", 13),
    ("Channel Islands", 10),
    ("Cyprus", 9),
    ("Japan", 10),
    ("Poland", 7),
    ("USA", 8),
    ("Greece", 6),
    ("Unspecified", 6),
    ("Israel", 5),
    ("Canada", 4),
    ("United Arab Emirates", 3),
    ("Hong Kong", 3),
    ("Singapore", 2),
    ("Malta", 3),
    ("Iceland", 2),
    ("Lithuania", 2),
    ("RSA", 2),
    ("Bahrain", 2),
    ("Thailand", 2),
    ("Brazil", 1),
    ("Korea", 2),
    ("European Community", 1),
    ("West Indies", 1),
    ("Czech Republic", 1),
    ("Saudi Arabia", 1),
)
UK = "United Kingdom"
UK_CUSTOMER_SHARE = 0.90

ADJECTIVES = (
    "WHITE",
    "RED",
    "PINK",
    "BLUE",
    "GREEN",
    "IVORY",
    "VINTAGE",
    "RETRO SPOT",
    "REGENCY",
    "HEART",
    "STAR",
    "JUMBO",
    "SMALL",
    "LARGE",
    "SET OF 3",
    "PACK OF 12",
    "ANTIQUE",
    "GLASS",
    "WOODEN",
    "ENAMEL",
    "PAPER",
    "CERAMIC",
    "FELTCRAFT",
    "CHRISTMAS",
    "PAISLEY",
    "POLKADOT",
    "SPACEBOY",
    "DOLLY GIRL",
    "LOVE",
    "PARTY",
    "GARDEN",
    "FAIRY",
    "SWEETHEART",
    "BIRD",
)
NOUNS = (
    "T-LIGHT HOLDER",
    "LUNCH BAG",
    "MUG",
    "TEACUP AND SAUCER",
    "CAKE CASES",
    "BUNTING",
    "HOT WATER BOTTLE",
    "DOORMAT",
    "CUSHION COVER",
    "PHOTO FRAME",
    "NAPKINS",
    "CANDLE",
    "STORAGE JAR",
    "WALL CLOCK",
    "SHOPPER BAG",
    "CHALKBOARD",
    "TISSUES",
    "GIFT WRAP",
    "ALARM CLOCK",
    "TRINKET BOX",
    "HANGING DECORATION",
    "PLATE",
    "BOWL",
    "SIGN",
    "JAM MAKING SET",
    "WATER BOTTLE",
    "SPONGE",
    "NOTEBOOK",
    "PENCILS",
    "LANTERN",
    "PURSE",
    "DOORSTOP",
    "CHARM",
    "BAKING SET",
    "SNACK BOXES",
    "JUMBO BAG",
    "ORNAMENT",
    "COASTER",
)
# price points (GBP) seen in the real data
PRICE_LADDER = np.array(
    [
        0.19,
        0.29,
        0.39,
        0.42,
        0.55,
        0.65,
        0.72,
        0.83,
        0.85,
        1.25,
        1.45,
        1.65,
        1.69,
        1.95,
        2.1,
        2.46,
        2.55,
        2.95,
        3.25,
        3.75,
        4.25,
        4.95,
        5.45,
        5.95,
        6.75,
        7.95,
        8.5,
        9.95,
        10.95,
        12.75,
        14.95,
        16.95,
        18.0,
        24.95,
        35.75,
    ]
)
PACKS = np.array([1, 2, 3, 4, 6, 8, 10, 12, 24, 25, 36, 48, 72, 96, 144])
PACK_P = np.array([18, 10, 5, 6, 10, 3, 4, 20, 8, 3, 2, 3, 1, 1, 0.6])
# (StockCode, Description) of non-product lines; the generator refers to them by the index
# names below, so keep both in the same order
SPECIAL = (
    ("POST", "POSTAGE"),
    ("DOT", "DOTCOM POSTAGE"),
    ("M", "Manual"),
    ("C2", "CARRIAGE"),
    ("D", "Discount"),
    ("BANK CHARGES", "Bank Charges"),
    ("AMAZONFEE", "AMAZON FEE"),
    ("ADJUST", "Adjustment by john on 26/01/2010 17"),
    ("CRUK", "CRUK Commission"),
    ("PADS", "PADS TO MATCH ALL CUSHIONS"),
    ("B", "Adjust bad debt"),
    ("TEST001", "This is a test product."),
    ("S", "SAMPLES"),
)
(
    POST,
    DOT,
    MANUAL,
    C2,
    DISCOUNT,
    BANK,
    AMAZON,
    ADJUST,
    CRUK,
    PADS,
    BADDEBT,
    TEST,
    SAMPLES,
) = range(len(SPECIAL))
WRITE_OFF_TEXT = (
    "damaged",
    "?",
    "check",
    "missing",
    "lost",
    "wet damaged",
    "smashed",
    "found",
    "sold as set on dotcom",
    "Damaged",
    "mixed up",
    "crushed",
    "thrown away",
)
MONTH_WEIGHT = {
    1: 0.80,
    2: 0.78,
    3: 1.0,
    4: 0.85,
    5: 0.95,
    6: 0.95,
    7: 0.92,
    8: 0.9,
    9: 1.30,
    10: 1.45,
    11: 1.90,
    12: 1.05,
}
HOURS = np.arange(7, 21)
HOUR_P = np.array([0.4, 2.5, 5.5, 9.5, 12.5, 14.0, 13.0, 11.0, 8.0, 4.5, 1.8, 0.9, 0.5, 0.3])


def build_catalogue(
    rng: np.random.Generator, n_products: int
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """A random product catalogue of ``n_products`` items (draws from ``rng``).

    Returns the stock codes, descriptions (about 8% with a trailing space, as in the real file),
    unit prices on ``PRICE_LADDER`` and the cumulative popularity (for inverse-CDF sampling).
    """
    codes_num = np.sort(rng.choice(np.arange(10002, 90000), size=n_products, replace=False))
    suffix = np.where(
        rng.random(n_products) < 0.2, rng.choice(np.array(list("ABCDELPSW")), n_products), ""
    )
    codes = np.char.add(codes_num.astype(str), suffix)
    adj = rng.choice(np.array(ADJECTIVES), size=n_products)
    noun = rng.choice(np.array(NOUNS), size=n_products)
    desc = np.char.add(np.char.add(adj, " "), noun)
    desc = np.where(rng.random(n_products) < 0.08, np.char.add(desc, " "), desc)  # trailing space
    raw = rng.lognormal(np.log(2.4), 0.75, n_products)
    price = PRICE_LADDER[np.clip(np.searchsorted(PRICE_LADDER, raw), 0, len(PRICE_LADDER) - 1)]
    popularity = rng.lognormal(0.0, 1.1, n_products)
    return codes.tolist(), desc.tolist(), price, np.cumsum(popularity / popularity.sum())
