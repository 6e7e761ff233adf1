"""Hidden cases of the adapters notebook (solutions/adapters/adapters.py): seeded inputs and calls.

Each case builds its inputs from the seed, calls the student's objects, and returns plain outputs;
the grader runs the same case on the reference and compares. The add_adapters case runs
add_adapters with a stand-in for Adapter, so its points never depend on the student's Adapter.
"""

import torch
from torch import nn

from autograde.spec import Case
from course_lib.model import CLSClassifier, Encoder, TransformerConfig

SIZES = {0: (16, 4), 1: (64, 16), 2: (48, 8), 3: (256, 8)}       # (d, reduction)


def _adapter(objects, seed):
    d, reduction = SIZES[seed]
    torch.manual_seed(seed)
    return objects["Adapter"](d, reduction)


def _set_weights(adapter, seed):
    """Overwrite the adapter's weights with seeded values (the init is checked separately)."""
    g = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        for layer in (adapter.W_down, adapter.W_up):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=g) * 0.3)
            layer.bias.copy_(torch.randn(layer.bias.shape, generator=g) * 0.3)


def _init(objects, seed):
    adapter = _adapter(objects, seed)
    d, _ = SIZES[seed]
    weights = [adapter.W_down.weight.detach(), adapter.W_up.weight.detach()]
    h = torch.randn(3, 5, d, generator=torch.Generator().manual_seed(2000 + seed))
    with torch.no_grad():
        rel = ((adapter(h) - h).norm() / h.norm()).item()
    both = torch.cat([w.flatten() for w in weights])
    return {"m": adapter.m,
            "W_down_shape": list(adapter.W_down.weight.shape),
            "W_up_shape": list(adapter.W_up.weight.shape),
            "trainable": sum(p.numel() for p in adapter.parameters() if p.requires_grad),
            "biases_zero": bool(torch.count_nonzero(adapter.W_down.bias) == 0
                                and torch.count_nonzero(adapter.W_up.bias) == 0),
            "weights_within_2_std": bool(both.abs().max() <= 2e-2 + 1e-7),
            "weights_nonzero": all(bool(torch.count_nonzero(w) > 0) for w in weights),
            "weight_std_about_1e-2": bool(0.005 < both.std().item() < 0.012),
            "near_identity": bool(rel < 0.05)}


def _forward(objects, seed):
    adapter = _adapter(objects, seed)
    _set_weights(adapter, seed)
    d, _ = SIZES[seed]
    g = torch.Generator().manual_seed(3000 + seed)
    h3 = torch.randn(2, 7, d, generator=g)
    h2 = torch.randn(5, d, generator=g)
    with torch.no_grad():
        return {"y": adapter(h3), "y_2d": adapter(h2)}


def _tiny_encoder(seed, n_layers=None):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=60, d_model=16, n_heads=2, n_layers=n_layers or 2 + seed,
                            d_ff=32, max_len=16, dropout=0.0)
    return Encoder(cfg).eval()


class _Slot(nn.Module):
    """What the add_adapters case puts in place of the student's Adapter: it records its
    arguments and computes 1.5 h + c (c seeded, trainable), so the case tests add_adapters alone
    and tells "on the sub-layer's output" from "on the residual stream" apart."""

    def __init__(self, d, reduction=16):
        super().__init__()
        self.args = [d, reduction]
        self.c = nn.Parameter(0.1 * torch.randn(d, generator=torch.Generator().manual_seed(d)))

    def forward(self, h):
        return 1.5 * h + self.c


def _add_adapters(objects, seed):
    reduction = [4, 2, 8][seed]
    add_adapters = objects["add_adapters"]
    names = add_adapters.__globals__
    saved = names.get("Adapter")
    names["Adapter"] = _Slot                          # add_adapters calls Adapter by its name
    try:
        model = add_adapters(_tiny_encoder(seed), reduction=reduction)
    finally:
        names["Adapter"] = saved
    slots = sorted(n for n, m in model.named_modules() if isinstance(m, _Slot))
    g = torch.Generator().manual_seed(4000 + seed)
    with torch.no_grad():
        ids = torch.randint(7, 60, (2, 10), generator=g)
        logits = model(input_ids=ids)["logits"]
    return {"adapters": slots, "args": [model.get_submodule(n).args for n in slots],
            "trainable": sorted(n for n, p in model.named_parameters() if p.requires_grad),
            "logits": logits}


def _task_model(seed):
    """A tiny classifier with some parameters trainable (no student code involved)."""
    model = CLSClassifier(_tiny_encoder(seed, n_layers=2), num_labels=3).eval()
    for p in model.parameters():
        p.requires_grad = False
    for block in model.encoder.blocks:
        block.after_ffn = nn.Linear(16, 16)
    for p in model.head.parameters():
        p.requires_grad = True
    if seed == 1:
        model.encoder.blocks[0].ln_1.bias.requires_grad = True
    return model


def _task_state(objects, seed):
    model = _task_model(seed)
    g = torch.Generator().manual_seed(5000 + seed)
    ids = torch.randint(7, 60, (3, 8), generator=g)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    state = objects["task_state"](model)
    out = {"names": sorted(state), "shapes": [list(state[k].shape) for k in sorted(state)]}
    with torch.no_grad():
        want = model(input_ids=ids)
        for p in model.parameters():                       # change the model after saving
            if p.requires_grad:
                p.add_(1.0)
    out["state_is_a_copy"] = all(torch.allclose(state[n], p - 1.0)
                                 for n, p in model.named_parameters() if p.requires_grad)
    objects["load_task_state"](model, state)
    with torch.no_grad():
        out["logits_after_load"] = model(input_ids=ids)
    out["restored"] = bool(torch.allclose(out["logits_after_load"], want, atol=1e-6))
    try:
        objects["load_task_state"](model, {"encoder.no_such.weight": torch.zeros(2)})
        out["unknown_name"] = "accepted"
    except KeyError:
        out["unknown_name"] = "KeyError"
    except Exception as e:                                   # noqa: BLE001 (recorded, compared)
        out["unknown_name"] = type(e).__name__
    return out


def _count(objects, seed):
    args = [(768, 64, 12, 2), (1024, 8, 24, 2), (64, 4, 4, 1), (1024, 64, 24, 2)][seed]
    return {"count": objects["adapter_parameter_count"](*args)}


CASES = {
    "init": Case(_init, seeds=(0, 1, 2, 3), requires={
        "m": "the bottleneck is m = d // reduction",
        "W_down_shape": "W_down is nn.Linear(d, m): weight (m, d)",
        "W_up_shape": "W_up is nn.Linear(m, d): weight (d, m)",
        "trainable": "an adapter has 2dm + d + m trainable parameters",
        "biases_zero": "Houlsby's init: both biases start at zero",
        "weights_within_2_std": "weights from a normal with std 1e-2 truncated at 2 std "
                                "(trunc_normal_(w, std=1e-2, a=-2e-2, b=2e-2)), not nn.Linear's default",
        "weights_nonzero": "the weights start small and random, not zero",
        "weight_std_about_1e-2": "the weights' standard deviation is about 1e-2",
        "near_identity": "at initialisation the adapter is close to the identity"}),
    "forward": Case(_forward, seeds=(0, 1, 2, 3), requires={
        "y": "forward is h + W_up ReLU(W_down h + b_down) + b_up",
        "y_2d": "forward works on inputs of shape (..., d)"}),
    "add_adapters": Case(_add_adapters, seeds=(0, 1, 2), requires={
        "adapters": "an Adapter in block.after_attn and block.after_ffn of every block, and "
                    "nowhere else",
        "args": "each Adapter is built with d = model.config.d_model and the given reduction",
        "trainable": "every pre-trained parameter is frozen; only the adapters train",
        "logits": "adapters act on each sub-layer's output, before the residual add"}),
    "task_state": Case(_task_state, seeds=(0, 1, 2), requires={
        "names": "keep every trainable parameter (and only those), named as in named_parameters()",
        "shapes": "store each trainable parameter with its own shape",
        "state_is_a_copy": "store copies (.detach().clone()), not the live parameters",
        "logits_after_load": "load_task_state copies each saved tensor into its parameter",
        "restored": "load_task_state copies each saved tensor into its parameter",
        "unknown_name": "a name the model does not have raises KeyError"}),
    "count": Case(_count, seeds=(0, 1, 2, 3), requires={
        "count": "layers x adapters per layer x (2dm + d + m)"}),
}
