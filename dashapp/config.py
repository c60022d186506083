"""Configuration, read only from environment variables (and the command line of ``python -m
dashapp``). Every variable is listed in the README's configuration table."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DATASET_STEM = "online_retail_II"
DATASET_SUFFIXES = (".xlsx", ".csv", ".zip", ".parquet")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"Environment variable {name} must be an integer, got {raw!r}.") from exc


@dataclass(frozen=True)
class Settings:
    """Application settings. Build with :meth:`from_env`."""

    data_path: Path | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    cache_dir: Path = DEFAULT_DATA_DIR / ".cache"
    cache_type: str = "FileSystemCache"
    redis_url: str | None = None
    cache_timeout: int = 24 * 3600
    url_prefix: str = "/"
    max_upload_mb: int = 50
    currency: str = "£"
    log_level: str = "INFO"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("DATA_DIR") or DEFAULT_DATA_DIR)
        data_path = env.get("DATA_PATH") or None
        redis_url = env.get("REDIS_URL") or None
        cache_type = env.get("CACHE_TYPE") or ("RedisCache" if redis_url else "FileSystemCache")
        prefix = env.get("URL_PREFIX") or "/"
        if not prefix.startswith("/"):
            prefix = "/" + prefix
        if not prefix.endswith("/"):
            prefix += "/"
        values = dict(
            data_path=Path(data_path) if data_path else None,
            data_dir=data_dir,
            cache_dir=Path(env.get("CACHE_DIR") or data_dir / ".cache"),
            cache_type=cache_type,
            redis_url=redis_url,
            cache_timeout=_env_int("CACHE_TIMEOUT", 24 * 3600),
            url_prefix=prefix,
            max_upload_mb=_env_int("MAX_UPLOAD_MB", 50),
            currency=env.get("CURRENCY_SYMBOL") or "£",
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("data_path", "data_dir", "cache_dir"):
            if values[key] is not None:
                values[key] = Path(values[key])
        return cls(**values)

    def discovered_data_path(self) -> Path | None:
        """The configured dataset, else ``data/online_retail_II.{xlsx,csv,zip,parquet}``."""
        if self.data_path is not None:
            return self.data_path
        for suffix in DATASET_SUFFIXES:
            candidate = self.data_dir / f"{DATASET_STEM}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def cache_config(self) -> dict:
        """Flask-Caching configuration (2.5 names: FileSystemCache, RedisCache, SimpleCache)."""
        config = {"CACHE_TYPE": self.cache_type, "CACHE_DEFAULT_TIMEOUT": self.cache_timeout}
        if self.cache_type == "FileSystemCache":
            config["CACHE_DIR"] = str(self.cache_dir / "results")
            config["CACHE_THRESHOLD"] = 2000
        elif self.cache_type == "RedisCache":
            config["CACHE_REDIS_URL"] = self.redis_url or "redis://127.0.0.1:6379/0"
            config["CACHE_KEY_PREFIX"] = "dashapp:"
        return config
