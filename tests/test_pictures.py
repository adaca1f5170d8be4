"""Block-norm heatmaps: for a compiled circuit the non-zero blocks are exactly its wires."""

import pytest
import torch

from arlearn.cli import main
from arlearn.compile import compile_generator, layout
from arlearn.errors import ArlearnError
from arlearn.reporting.heatmap import block_norm_heatmap, block_norms
from arlearn.rundir import load_run
from arlearn.circuits import generate


def test_compiled_heatmap_mirrors_the_wiring(tmp_path, capsys):
    run = tmp_path / "adder2"
    compile_generator("adder2", run)
    _, task, model = load_run(run)
    norms = block_norms(model)
    lay = layout(generate("adder2"))
    wires = set()
    for g in lay.circuit.gates:
        wires |= {(lay.pos[g.name] - 1, lay.pos[i]) for i, w in zip(g.inputs, g.weights) if w}
    t0 = lay.prompt_len + lay.k  # the position of the second "=": it then copies the outputs
    wires |= {(t0 + q, lay.pos[o]) for q, o in enumerate(lay.circuit.outputs)}
    assert {tuple(ix) for ix in torch.nonzero(norms).tolist()} == wires
    png = tmp_path / "h.png"
    assert main(["heatmap", str(run), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heatmap_of_an_mlp_and_bad_layer(tmp_path):
    from arlearn.models import ModelConfig, make_model

    model = make_model(ModelConfig(name="mlp", d=4, hidden=8, layers=2, chunk=2), 6, 7)
    out = block_norm_heatmap(model, tmp_path / "m.png", layer=1)
    assert out.is_file() and block_norms(model, 1).shape == (7, 7)
    assert torch.all(block_norms(model).triu(1) == 0)  # causal: nothing above the diagonal
    with pytest.raises(ArlearnError, match="layer 2 does not exist"):
        block_norms(model, 2)
    transformer = make_model(ModelConfig(name="transformer", d=8, heads=2), 6, 7)
    with pytest.raises(ArlearnError, match="no block-causal map"):
        block_norms(transformer)
