"""The web front end as `ketenpas serve web` runs it, but on a clock the test sets.

`python -m tests.web.browser.clocked_web` serves `create_app(WebSettings(), clock=...)`
where the clock is the wall clock plus the seconds written in the file named by
`KETENPAS_TEST_CLOCK_FILE` (read at every request): a test moves this process's time
forward to see a session idle out, without waiting for it.
"""

import os
import time
from pathlib import Path

import uvicorn

from services.web.app import create_app
from services.web.settings import WebSettings


def main() -> None:
    """Serve the front end with the file-driven clock."""
    offset_file = Path(os.environ["KETENPAS_TEST_CLOCK_FILE"])

    def clock() -> float:
        text = offset_file.read_text().strip() if offset_file.exists() else ""
        return time.time() + (float(text) if text else 0.0)

    settings = WebSettings()
    uvicorn.run(
        create_app(settings, clock=clock),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
