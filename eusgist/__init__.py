"""eusgist: GIST vs leiomyoma on endoscopic ultrasound."""

__version__ = "0.1.0"
