"""Entry point of the web app (local runs and Hugging Face Spaces): build and launch."""

import logging
from pathlib import Path

from eusgist.space import ensure_pyradiomics

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    ensure_pyradiomics(Path(__file__).with_name("requirements-radiomics.txt"))
    from eusgist.ui import launch

    launch()
