"""Prediction on your own point files with a trained checkpoint (``pointea-predict``)."""

from pointea.predict.dataset import Preprocessing
from pointea.predict.model import TrainedModel, load_trained_model

__all__ = ["Preprocessing", "TrainedModel", "load_trained_model"]
