"""Build and save the clinic's own spaCy pipeline; no pretrained model is needed.

The pipeline is a blank English ``Language`` with a lookup lemmatizer (tables from
spacy-lookups-data), an entity ruler fed from ``entity_patterns.yml`` and the
``crisis_matcher`` component. Build it into the directory Rasa's SpacyNLP loads with::

    python -m bot.nlp.pipeline var/spacy/clinic_en

Loading the saved directory needs the ``crisis_matcher`` factory registered first, so
``import bot.nlp.crisis_matcher`` must precede ``spacy.load(path)``; :func:`load_pipeline`
does both. Crisis phrases are read from their data file whenever the pipeline is loaded, so
editing ``crisis_patterns.yml`` needs no rebuild; entity phrases are saved into the pipeline,
so editing ``entity_patterns.yml`` does.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import spacy
import yaml
from spacy.language import Language

from bot.nlp.crisis_matcher import FACTORY_NAME, PatternFileError

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT_DIR = Path("var/spacy/clinic_en")
ENTITY_PATTERNS_PATH = Path(__file__).with_name("entity_patterns.yml")
PIPELINE_NAME = "clinic_en"
PIPELINE_VERSION = "1.0.0"


def load_entity_patterns(
    nlp: Language, path: Path = ENTITY_PATTERNS_PATH
) -> list[dict[str, Any]]:
    """Entity-ruler patterns (LOWER token patterns) from a ``label -> id -> phrases`` file.

    Raises:
        PatternFileError: the file is not shaped as described in entity_patterns.yml.
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise PatternFileError(f"{path}: expected a mapping of labels")
    patterns: list[dict[str, Any]] = []
    for label, entities in data.items():
        if not isinstance(entities, dict):
            raise PatternFileError(f"{path}: label {label!r} needs a mapping of ids to phrases")
        for ent_id, phrases in entities.items():
            if not isinstance(phrases, list) or not phrases:
                raise PatternFileError(f"{path}: {label}.{ent_id} needs a non-empty list of phrases")
            for phrase in phrases:
                tokens = [token.lower_ for token in nlp.make_doc(str(phrase))]
                if not tokens:
                    raise PatternFileError(f"{path}: {label}.{ent_id} has an empty phrase")
                patterns.append(
                    {
                        "label": str(label),
                        "id": str(ent_id),
                        "pattern": [{"LOWER": token} for token in tokens],
                    }
                )
    return patterns


def build_pipeline(
    entity_patterns_path: Path = ENTITY_PATTERNS_PATH,
    crisis_patterns_path: Path | None = None,
) -> Language:
    """The blank-English pipeline: lookup lemmatizer, entity ruler, crisis matcher."""
    nlp = spacy.blank("en")
    nlp.meta.update(
        {
            "name": PIPELINE_NAME,
            "version": PIPELINE_VERSION,
            "description": "Blank English, lookup lemmatizer, clinic entity ruler, "
            "crisis matcher (no pretrained weights).",
        }
    )
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe("entity_ruler")
    nlp.add_pipe(
        FACTORY_NAME,
        config={"patterns_path": str(crisis_patterns_path) if crisis_patterns_path else None},
    )
    # initialize() loads the lemma tables and empties the entity ruler: patterns come after.
    nlp.initialize()
    ruler.add_patterns(load_entity_patterns(nlp, entity_patterns_path))  # type: ignore[attr-defined]
    return nlp


def save_pipeline(path: Path) -> Path:
    """Build the pipeline and save it to ``path``; return the path."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    nlp = build_pipeline()
    # Saved disabled: SpacyNLP runs only the lemmatizer and the entity ruler on every message
    # and training example (the matcher took 9 of 10 s over the training data), and
    # CrisisGuard calls the matcher itself, once per message, on the pipeline SpacyNLP loaded.
    nlp.disable_pipe(FACTORY_NAME)
    nlp.to_disk(path)
    logger.info("saved spaCy pipeline %s to %s", PIPELINE_NAME, path)
    return path


def load_pipeline(path: Path = DEFAULT_OUTPUT_DIR) -> Language:
    """Load a saved pipeline (this module has already registered ``crisis_matcher``)."""
    return spacy.load(Path(path))


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m bot.nlp.pipeline [OUT_DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.nlp.pipeline", description="Build and save the clinic spaCy pipeline."
    )
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUTPUT_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    save_pipeline(args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
