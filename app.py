"""Entry point of the web app (local runs and Hugging Face Spaces): build and launch."""

from eusgist.ui import launch

if __name__ == "__main__":
    launch()
