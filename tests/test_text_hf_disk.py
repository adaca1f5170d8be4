"""`train_path = "hf-disk:<dir>"`: the `text` column of a Hugging Face dataset saved with
`save_to_disk`, streamed a slice of rows at a time (`datasets` is optional)."""

import sys

import numpy as np
import pytest

from arlearn.errors import ArlearnError
from arlearn.tasks import corpus as corpus_mod
from arlearn.tasks import make_task

TEXTS = ["Tom had a red ball.", "  Lily saw a big dog.\n", "", "The sun was warm.\n\nMia swam."] * 30


def task_for(tmp_path, spec, **kw):
    return make_task("text", {"train_path": spec, "valid_path": spec, "tokenizer": "bpe", "bpe_vocab": 280,
                              "window": 8, "cache_dir": str(tmp_path / "cache"), **kw})


def test_a_missing_datasets_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets → ImportError
    with pytest.raises(ArlearnError, match=r"needs the `datasets` package \(pip install datasets\)"):
        task_for(tmp_path, f"hf-disk:{tmp_path}").tokens("train")


def encoded(task, stories):
    ids = []
    for s in stories:
        ids += task.tok.encode(s, add_special_tokens=False).ids + [task.eot_id]
    return np.array(ids, dtype=np.uint16)


@pytest.fixture
def datasets():
    try:
        import datasets
    except ImportError:
        pytest.skip("the optional `datasets` package is not installed (pip install datasets)")
    return datasets


def test_a_saved_dataset_is_a_corpus(tmp_path, datasets, monkeypatch):
    datasets.Dataset.from_dict({"text": TEXTS, "id": list(range(len(TEXTS)))}).save_to_disk(str(tmp_path / "ds"))
    monkeypatch.setattr(corpus_mod, "PIECE_ROWS", 7)  # many pieces
    task = task_for(tmp_path, f"hf-disk:{tmp_path / 'ds'}")
    stories = [t.strip() for t in TEXTS if t.strip()]
    assert np.array_equal(task.tokens("train"), encoded(task, stories))
    assert task.cache_files("train")[0].name.startswith("ds-")
    limited = task_for(tmp_path, f"hf-disk:{tmp_path / 'ds'}", max_stories=10)  # also bounds the BPE's sample
    assert np.array_equal(limited.tokens("train"), encoded(limited, stories[:10]))


def test_bad_saved_datasets_are_one_line_errors(tmp_path, datasets):
    with pytest.raises(ArlearnError, match="saved dataset not found"):
        task_for(tmp_path, f"hf-disk:{tmp_path / 'none'}").tokens("train")
    datasets.Dataset.from_dict({"story": ["a", "b"]}).save_to_disk(str(tmp_path / "nocol"))
    with pytest.raises(ArlearnError, match="has no 'text' column"):
        task_for(tmp_path, f"hf-disk:{tmp_path / 'nocol'}").tokens("train")
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a b c"]})})
    dd.save_to_disk(str(tmp_path / "dict"))
    with pytest.raises(ArlearnError, match=r"has splits \(train\): name one"):
        task_for(tmp_path, f"hf-disk:{tmp_path / 'dict'}").tokens("train")
    (tmp_path / "junk").mkdir()
    with pytest.raises(ArlearnError, match="cannot load saved dataset"):
        task_for(tmp_path, f"hf-disk:{tmp_path / 'junk'}").tokens("train")
