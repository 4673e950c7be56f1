"""What the production set-up's processes run with (bot.deploy.prod.prod_env)."""

from __future__ import annotations

import pytest

from bot.deploy.prod import TF_THREAD_SETTINGS, ProdConfig, prod_env


def test_each_rasa_replica_keeps_tensorflow_to_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TF_THREAD_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    env = prod_env(ProdConfig())
    assert {name: env[name] for name in TF_THREAD_SETTINGS} == dict.fromkeys(TF_THREAD_SETTINGS, "1")


def test_the_operator_can_give_replicas_more_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_INTRA_OP_PARALLELISM_THREADS", "2")
    assert prod_env(ProdConfig())["TF_INTRA_OP_PARALLELISM_THREADS"] == "2"
    assert prod_env(ProdConfig(extra_env={"OMP_NUM_THREADS": "4"}))["OMP_NUM_THREADS"] == "4"
