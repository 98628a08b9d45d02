"""The demo's stand-in for the ML team's own training job.

Trains a small scikit-learn model (iris), logs it to MLflow with a signature, an input example
and quality metrics, and registers a new version. This is *user* code, the kind every ML team
already has: it talks to MLflow directly, as training code does. signoff's own reads and writes of
the registry all go through ``components.mlflow_registry``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainedVersion:
    name: str
    version: str
    run_id: str
    accuracy: float
    artifact_bytes: int
    """Size of the saved model folder: what the ML team declares as its model size."""

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def train_and_register(tracking_uri: str, name: str, *, weak: bool = False) -> TrainedVersion:
    """Train, log and register one version of the demo model.

    Args:
        tracking_uri: the MLflow tracking server.
        name: the registered model name.
        weak: train a model that only guesses the majority class (what ``--break ml`` uses: it
            falls below the contract's accuracy threshold).

    Returns:
        The registered version.
    """
    import warnings

    import mlflow
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    x, y = load_iris(return_X_y=True, as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=7, stratify=y)
    model = DummyClassifier(strategy="most_frequent") if weak else LogisticRegression(max_iter=500)
    model.fit(x_train, y_train)
    accuracy = float(model.score(x_test, y_test))
    signature = infer_signature(x_test, model.predict(x_test))
    with tempfile.TemporaryDirectory() as tmp:  # measure what will be logged, as an ML team would
        saved = Path(tmp) / "model"
        mlflow.sklearn.save_model(
            model, saved, signature=signature, input_example=x_test.head(3),
            pip_requirements=["scikit-learn", "mlflow"],
        )  # fmt: skip
        artifact_bytes = sum(f.stat().st_size for f in saved.rglob("*") if f.is_file())
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_experiment("signoff-demo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mlflow.start_run(run_name="weak-baseline" if weak else "logreg") as run:
            mlflow.log_params({"model": type(model).__name__})
            mlflow.log_metrics({"accuracy": accuracy})
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=x_test.head(3),
                registered_model_name=name,
                # Given, not inferred: inference starts a subprocess that takes tens of seconds.
                pip_requirements=["scikit-learn", "mlflow"],
            )
    version = info.registered_model_version
    if version is None:  # pragma: no cover - registered_model_name always registers
        raise RuntimeError("MLflow did not register the model version")
    return TrainedVersion(
        name=name,
        version=str(version),
        run_id=run.info.run_id,
        accuracy=accuracy,
        artifact_bytes=artifact_bytes,
    )
