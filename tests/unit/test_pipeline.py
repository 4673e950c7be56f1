"""The clinic spaCy pipeline: entity ruler, lookup lemmatizer, saving and loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from spacy.language import Language

from bot.nlp import pipeline
from bot.nlp.pipeline import build_pipeline, load_entity_patterns, save_pipeline

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nlp() -> Language:
    """The project's pipeline, built in memory."""
    return build_pipeline()


def ents(nlp: Language, text: str) -> list[tuple[str, str, str]]:
    return [(e.text, e.label_, e.ent_id_) for e in nlp(text).ents]


def test_pipe_order(nlp: Language) -> None:
    assert nlp.pipe_names == ["lemmatizer", "entity_ruler", "crisis_matcher"]


def test_entity_ruler_finds_strains_and_scfa(nlp: Language) -> None:
    found = ents(nlp, "Do L. rhamnosus and Bifidobacterium longum make butyrate?")
    assert ("L. rhamnosus", "STRAIN", "lactobacillus_rhamnosus") in found
    assert ("Bifidobacterium longum", "STRAIN", "bifidobacterium_longum") in found
    assert ("butyrate", "SCFA", "butyrate") in found


def test_entity_ruler_ignores_case_and_knows_other_labels(nlp: Language) -> None:
    found = ents(nlp, "l. RHAMNOSUS, b. infantis, short-chain fatty acids, GABA and gos")
    assert ("l. RHAMNOSUS", "STRAIN", "lactobacillus_rhamnosus") in found
    assert ("b. infantis", "STRAIN", "bifidobacterium_infantis") in found
    assert ("short-chain fatty acids", "SCFA", "scfa") in found
    assert ("GABA", "NEUROTRANSMITTER", "gaba") in found
    assert ("gos", "PREBIOTIC", "gos") in found


def test_longest_strain_name_wins(nlp: Language) -> None:
    found = ents(nlp, "Is Lactobacillus casei Shirota in yogurt?")
    assert found == [("Lactobacillus casei Shirota", "STRAIN", "lactobacillus_casei_shirota")]


def test_entity_patterns_are_lower_token_patterns(nlp: Language) -> None:
    patterns = load_entity_patterns(nlp)
    assert {p["label"] for p in patterns} >= {"STRAIN", "SCFA", "NEUROTRANSMITTER", "PREBIOTIC"}
    assert all(list(token) == ["LOWER"] for p in patterns for token in p["pattern"])


def test_lookup_lemmatizer(nlp: Language) -> None:
    assert [t.lemma_ for t in nlp("killing pills")] == ["kill", "pill"]


def test_cli_saves_and_a_fresh_process_loads(tmp_path: Path) -> None:
    out = tmp_path / "clinic_en"
    assert pipeline.main([str(out)]) == 0
    assert (out / "config.cfg").is_file()
    script = (
        "import json, sys\n"
        "import bot.nlp.crisis_matcher  # registers the factory before spacy.load\n"
        "import spacy\n"
        "nlp = spacy.load(sys.argv[1])\n"
        "text = 'I want to kill myself; does B. longum help?'\n"
        "doc = nlp(text)\n"
        "crisis = nlp.get_pipe('crisis_matcher').analyse(nlp.make_doc(text))\n"
        "print(json.dumps({'pipes': nlp.pipe_names, 'disabled': nlp.disabled,\n"
        "    'crisis': crisis.crisis, 'reason': crisis.reason, 'ents': [e.label_ for e in doc.ents],\n"
        "    'lemma': nlp('killing')[0].lemma_}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {
        "pipes": ["lemmatizer", "entity_ruler"],
        "disabled": ["crisis_matcher"],
        "crisis": True,
        "reason": "suicide",
        "ents": ["STRAIN"],
        "lemma": "kill",
    }


def test_save_pipeline_returns_the_path(tmp_path: Path) -> None:
    out = save_pipeline(tmp_path / "nested" / "clinic_en")
    assert out == tmp_path / "nested" / "clinic_en"
    assert (out / "meta.json").is_file()
    loaded = pipeline.load_pipeline(out)
    assert loaded.disabled == ["crisis_matcher"]  # SpacyNLP does not run it; CrisisGuard does
    matcher = loaded.get_pipe("crisis_matcher")
    assert matcher.analyse(loaded.make_doc("I took too many pills")).reason == "overdose"
