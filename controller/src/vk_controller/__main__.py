"""vk-controller's command line: parse the settings, set up logging, run until told to stop."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

from vk_controller import logs, settings
from vk_controller.kube.config import ConfigError
from vk_provider_sdk import tracing


def main(argv: Sequence[str] | None = None) -> int:
    config = settings.parse(argv)
    logs.configure(config.log_level, config.log_format)
    from vk_controller.app import serve  # after logging is set up: importing grpc logs

    tracing.configure("vk-controller")  # only if the OTEL_* environment asks for it
    try:
        asyncio.run(serve(config))
    except ConfigError as error:
        logging.getLogger("vk_controller").error("%s", error)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        tracing.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
