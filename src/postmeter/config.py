"""Settings: from the environment (``POSTMETER_*``) and an optional TOML file, built in bootstrap.

The file is named by ``POSTMETER_CONFIG``; the environment wins over the file. Example::

    database_url = "postgresql://postmeter@db/postmeter"
    host = "0.0.0.0"
    port = 8080
    tick_interval_s = 5
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from postmeter.store.engine import DEFAULT_URL

CONFIG_ENV = "POSTMETER_CONFIG"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTMETER_", extra="ignore")

    database_url: str = DEFAULT_URL
    pool_size: Annotated[int, Field(ge=1, le=200)] = 16
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    tick_interval_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 (no .env files)
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(CONFIG_ENV)
        if path:
            if not Path(path).is_file():
                raise FileNotFoundError(f"{CONFIG_ENV}={path}: no such file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)
