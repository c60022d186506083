"""The parameter declarations (dashapp.service.params): parsing, limits and the messages a
user sees, built from one declaration per parameter."""

from __future__ import annotations

import math

import pytest

from dashapp.analytics import clustering
from dashapp.analytics.clv import MODEL_LABELS
from dashapp.service import params
from dashapp.service.params import ParamError


@pytest.mark.parametrize(
    "raw, value",
    [(12, 12), ("12", 12), ("12.0", 12), (12.0, 12), (" 7 ", 7), (1, 1), (120, 120)],
)
def test_whole_numbers_in_range_are_accepted(raw, value):
    got = params.CLV_HORIZON.parse(raw)
    assert got == value and isinstance(got, int)


@pytest.mark.parametrize("raw", [0, 121, 1.5, "abc", "", None, "nan", "inf", True, [12], "1e3"])
def test_bad_horizons_are_refused_with_the_declared_message(raw):
    with pytest.raises(ParamError) as caught:
        params.CLV_HORIZON.parse(raw)
    text = str(caught.value)
    assert caught.value.key == "clv_horizon"
    assert text.startswith("Horizon (months of 30 days) ")
    if raw in (None, ""):
        assert text == (
            "Horizon (months of 30 days) is required: enter a whole number from 1 to 120."
        )
    else:
        assert "must be a whole number from 1 to 120; got " in text


def test_the_message_names_the_value_as_given():
    with pytest.raises(ParamError, match=r"Margin \(% of revenue\) .* 0 to 100; got '150'\."):
        params.CLV_MARGIN.parse("150")
    with pytest.raises(ParamError, match=r"got '-0\.5'"):
        params.CLV_DISCOUNT.parse(-0.5)
    assert params.CLV_MARGIN.parse("0") == 0.0 and params.CLV_MARGIN.parse(100) == 100.0


def test_an_open_lower_limit_and_optional_values():
    assert params.CLUSTER_EPS.parse(None) is None and params.CLUSTER_EPS.parse("") is None
    assert params.CLUSTER_EPS.parse("0.25") == 0.25
    with pytest.raises(ParamError, match="eps must be a number above 0; got '0'"):
        params.CLUSTER_EPS.parse(0)
    assert params.CLUSTER_MIN_SAMPLES.parse(None) is None
    with pytest.raises(ParamError, match="min_samples must be a whole number of at least 1"):
        params.CLUSTER_MIN_SAMPLES.parse(0)


def test_choices_take_aliases_and_case_and_refuse_the_rest():
    assert params.CLV_MODEL.parse("BG/NBD") == "bgnbd"
    assert params.CLV_MODEL.parse(" Pareto_NBD ") == "pareto_nbd"
    assert params.CLV_MODEL.parse(None) == "bgnbd"  # a blank choice is the default
    assert params.CLV_MODEL.parse("MBG/NBD") == "mbgnbd"
    for alias, method in clustering.METHOD_ALIASES.items():
        assert params.CLUSTER_METHOD.parse(alias) == method
    with pytest.raises(ParamError) as caught:
        params.CLV_MODEL.parse("lifetimes")
    assert str(caught.value) == (
        "Purchase model must be one of BG/NBD (bgnbd), Pareto/NBD (pareto_nbd), "
        "MBG/NBD (mbgnbd); got 'lifetimes'."
    )


def test_several_choices_come_back_in_declaration_order():
    features = params.CLUSTER_FEATURES
    assert features.parse(["monetary", "recency", "Recency"]) == ("recency", "monetary")
    assert features.parse("aov,frequency") == ("frequency", "aov")
    assert features.parse([]) == features.parse(None) == ("recency", "frequency", "monetary")
    with pytest.raises(ParamError, match="Features must be any of .*; got 'loyalty'"):
        features.parse(["recency", "loyalty"])


def test_dates():
    assert params.RFM_AS_OF.parse("2011-12-10") == "2011-12-10"
    assert params.RFM_AS_OF.parse("2011-12-10T00:00:00") == "2011-12-10"
    assert params.RFM_AS_OF.parse(None) is None
    with pytest.raises(ParamError, match="As-of date must be a date written YYYY-MM-DD"):
        params.RFM_AS_OF.parse("next tuesday")
    params.RFM_AS_OF.check_dates("2011-12-10", "2011-12-10", "2021-12-10")
    params.RFM_AS_OF.check_dates(None, "2011-12-10", "2021-12-10")
    with pytest.raises(ParamError, match="from 2011-12-10 to 2021-12-10 .why.; got '1900-01-01'"):
        params.RFM_AS_OF.check_dates("1900-01-01", "2011-12-10", "2021-12-10", "why")


@pytest.mark.parametrize(
    "raw", ["1,2,3", "a,b,c,d", "40,30,20,10", "1,1,2,3", "1,2,3,inf", "nan,nan,nan,nan"]
)
def test_cut_points_need_four_increasing_finite_numbers(raw):
    with pytest.raises(ParamError, match="exactly 4 increasing numbers separated by commas"):
        params.RFM_R_CUTS.parse(raw)


def test_cut_points_and_thresholds():
    assert params.RFM_R_CUTS.parse("14; 30, 90,180") == (14.0, 30.0, 90.0, 180.0)
    assert params.thresholds(None, "2,3,5,10", "") == (("frequency", (2.0, 3.0, 5.0, 10.0)),)
    assert params.thresholds() is None


def test_declarations_follow_the_engines_limits():
    """Limits that belong to a model or engine are read from it, not written again."""
    assert params.CLUSTER_K.low == clustering.MIN_K and params.CLUSTER_K.high == clustering.MAX_K
    assert params.CLUSTER_METHOD.values == clustering.METHODS
    assert dict(params.CLV_MODEL.choices) == MODEL_LABELS
    assert params.CLUSTER_LINKAGE.values == clustering.LINKAGES
    for p in params.BY_KEY.values():
        if p.kind in ("choice", "choices"):
            default = p.default if p.kind == "choice" else p.default[0]
            assert default in p.values, p.key
        elif p.default is not None:
            assert p.parse(p.default) == p.default, p.key


def test_every_declaration_has_help_and_a_unique_key():
    keys = [p.key for p in params.BY_KEY.values()]
    assert len(keys) == len(set(keys))
    for p in params.BY_KEY.values():
        assert p.help and p.label, p.key
        assert p.limits_text()


def test_the_documentation_table_lists_every_parameter_with_its_limits():
    table = params.markdown_table(params.CLV_VALUE_PARAMS)
    rows = table.splitlines()
    assert rows[0].startswith("| parameter | URL key | default | allowed |")
    assert len(rows) == 2 + len(params.CLV_VALUE_PARAMS)
    assert "`clv_horizon`" in table and "a whole number from 1 to 120" in table
    assert "`12`" in table and "BG/NBD (bgnbd)" in table


def test_initial_keeps_a_bad_url_value_for_the_message():
    """A control starts at the URL's value as given, so a bad one is reported, not replaced."""
    assert params.CLV_HORIZON.initial("abc") == "abc"
    assert params.CLV_HORIZON.initial(None) == 12
    assert math.isclose(params.CLV_MARGIN.initial(""), 30.0)
