"""Settings, from the environment (``POSTMETER_*``); built once, in bootstrap."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from postmeter.store.engine import DEFAULT_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTMETER_", extra="ignore")

    database_url: str = DEFAULT_URL
    pool_size: int = 5
