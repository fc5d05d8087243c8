"""Multi-worker training, actually run: two processes on 127.0.0.1 train together."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reader.training.mnist import SHARED_MNIST_DIRS

REPO = Path(__file__).resolve().parent.parent
HAVE_MNIST = any(d.is_dir() for d in SHARED_MNIST_DIRS)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.skipif(not HAVE_MNIST, reason="../shared/data/mnist not present")
def test_two_workers_train_one_model_together(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                      "task": {"type": "worker",
                                                               "index": index}})}
        out = tmp_path / f"worker{index}" / "m"
        procs.append(subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "train.py"), "--quiet",
             "--strategy", "multiworker", "--limit", "300", "--val-size", "100",
             "--epochs", "1", "--batch-size", "64", "--negatives", "0",
             "--output", str(out)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=400)
            results.append((proc.returncode, stdout, stderr))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for code, stdout, stderr in results:
        assert code == 0, stderr[-3000:]
        assert "on 2 replica(s)" in stdout  # one replica per worker, trained as one

    import keras

    weights = [keras.saving.load_model(tmp_path / f"worker{i}" / "m.keras").get_weights()
               for i in range(2)]
    assert len(weights[0]) == len(weights[1])
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(*weights))
    # and they learned something together
    card = json.loads((tmp_path / "worker0" / "m.json").read_text())
    assert card["test"]["accuracy_pct"] > 20
