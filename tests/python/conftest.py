import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "eventbridge-integration-controller"


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def chart_dir():
    return CHART


@pytest.fixture(scope="session")
def kubeconfig():
    path = os.environ.get("KUBECONFIG")
    assert path, "KUBECONFIG is not set: run `make test` (it starts the local kube-apiserver)"
    return path
