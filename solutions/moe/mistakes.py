"""Named mistakes of the mixture-of-experts notebook (grader only): wrong reference variants.

The common mistakes of a mixture of experts. MoE variants subclass the reference
MoE (extracted from solutions/moe/moe.ipynb) and replace its forward.
"""

import torch
import torch.nn.functional as F

from autograde.spec import Mistake

# ---------------------------------------------------------------- softmax_gate


def _softmax_dim0(objects):
    return dict(objects, softmax_gate=lambda h: torch.softmax(h, dim=0))


def _no_max_shift(objects):
    def softmax_gate(h):
        e = torch.exp(h)
        return e / e.sum(-1, keepdim=True)
    return dict(objects, softmax_gate=softmax_gate)


# ---------------------------------------------------------------- topk_gate


def _always_renormalize(objects):
    def topk_gate(p, k, renormalize=False):
        w, i = torch.topk(p, k, dim=-1)
        return w / w.sum(-1, keepdim=True), i
    return dict(objects, topk_gate=topk_gate)


def _khot_topk(objects):
    def topk_gate(p, k, renormalize=False):
        w, i = torch.topk(p, k, dim=-1)
        return torch.ones_like(w), i
    return dict(objects, topk_gate=topk_gate)


def _never_renormalize(objects):
    return dict(objects, topk_gate=lambda p, k, renormalize=False: torch.topk(p, k, dim=-1))


# ---------------------------------------------------------------- MoE


def _moe_variant(objects, gate):
    """A reference MoE whose forward uses `gate(self, tokens) -> (p, weights, indices)`."""
    ref = objects["MoE"]

    def forward(self, x):
        B, T, d = x.shape
        tokens = x.reshape(B * T, d)
        p, weights, indices = gate(self, tokens)
        self.router_probs, self.expert_indices = p, indices
        y = torch.zeros_like(tokens)
        for i, expert in enumerate(self.experts):
            token, slot = torch.where(indices == i)
            if token.numel():
                y.index_add_(0, token, weights[token, slot, None] * expert(tokens[token]))
        return y.view(B, T, d)
    return dict(objects, MoE=type("WrongMoE", (ref,), {"forward": forward}))


def _gate(renormalize=None, ones=False, dim=-1):
    def gate(self, tokens):
        p = torch.softmax(self.router(tokens), dim=dim)
        w, i = torch.topk(p, self.k, dim=-1)
        if renormalize if renormalize is not None else self.renormalize:
            w = w / w.sum(-1, keepdim=True)
        return p, torch.ones_like(w) if ones else w, i
    return gate


def _moe_renormalized(objects):
    return _moe_variant(objects, _gate(renormalize=True))


def _moe_khot(objects):
    return _moe_variant(objects, _gate(ones=True))


def _moe_wrong_dim(objects):
    return _moe_variant(objects, _gate(dim=0))


def _route(self, x):
    """The reference's routing (softmax gate, top-k, stored for the balance loss)."""
    B, T, d = x.shape
    tokens = x.reshape(B * T, d)
    p = torch.softmax(self.router(tokens), dim=-1)
    w, idx = torch.topk(p, self.k, dim=-1)
    if self.renormalize:
        w = w / w.sum(-1, keepdim=True)
    self.router_probs, self.expert_indices = p, idx
    return B, T, d, tokens, w, idx


def _moe_token_loop(objects):
    ref = objects["MoE"]

    def forward(self, x):
        B, T, d, tokens, w, idx = _route(self, x)
        rows = []
        for t in range(B * T):                          # the mistake: one call per token
            rows.append(sum(w[t, s] * self.experts[int(idx[t, s])](tokens[t:t + 1])[0]
                            for s in range(self.k)))
        return torch.stack(rows).view(B, T, d)
    return dict(objects, MoE=type("WrongMoE", (ref,), {"forward": forward}))


def _moe_dense_compute(objects):
    ref = objects["MoE"]

    def forward(self, x):
        B, T, d, tokens, w, idx = _route(self, x)
        every = torch.stack([e(tokens) for e in self.experts], dim=1)     # all experts, all tokens
        gate = torch.zeros_like(self.router_probs).scatter(-1, idx, w)
        return (gate[..., None] * every).sum(1).view(B, T, d)
    return dict(objects, MoE=type("WrongMoE", (ref,), {"forward": forward}))


# ---------------------------------------------------------------- balance loss


def _loss(f_from_probs=False, top1_only=False, factor=True):
    def loss(router_probs, expert_indices, N):
        p = router_probs.reshape(-1, N)
        idx = expert_indices.reshape(p.shape[0], -1)
        if top1_only:
            idx = idx[:, :1]
        f = p if f_from_probs else F.one_hot(idx, N).sum(1).float()
        out = (f.mean(0) * p.mean(0)).sum()
        return N * out if factor else out
    return loss


def _no_factor_n(objects):
    return dict(objects, switch_load_balancing_loss=_loss(factor=False))


def _f_from_probs(objects):
    return dict(objects, switch_load_balancing_loss=_loss(f_from_probs=True))


def _top1_only(objects):
    return dict(objects, switch_load_balancing_loss=_loss(top1_only=True))


RENORM_TOP1 = ("renormalising top-1", "with the lecture's convention the weights are p_i, not "
               "renormalised: with k = 1 the renormalised weight is always 1 and the router "
               "gets no gradient")
KHOT = ("k-hot mask without weights", "multiply each selected expert's output by its gate "
        "value p_i(x); a 0/1 mask loses the weights (and the router's gradient)")
MISTAKES = {
    "softmax_gate": [
        Mistake("softmax over the wrong dim", "normalise over the last dimension (the N "
                "experts), not over the tokens", _softmax_dim0),
        Mistake("no max subtraction", "subtract each row's maximum before exp: large logits "
                "overflow to inf and give NaN", _no_max_shift),
    ],
    "topk_gate": [
        Mistake(*RENORM_TOP1, _always_renormalize),
        Mistake(*KHOT, _khot_topk),
        Mistake("renormalize ignored", "with renormalize=True divide the top-k weights by "
                "their sum (Mixtral)", _never_renormalize),
    ],
    "moe_layer": [
        Mistake(*RENORM_TOP1, _moe_renormalized),
        Mistake(*KHOT, _moe_khot),
        Mistake("softmax over the wrong dim", "the router's softmax must run over the N "
                "experts of each token (dim=-1), not over the tokens", _moe_wrong_dim),
        Mistake("Python loop over tokens", "dispatch in batches: run each expert once on all "
                "the tokens routed to it, not once per token", _moe_token_loop),
        Mistake("every expert on every token", "an MoE runs each expert only on the tokens "
                "routed to it: gather them with torch.where(indices == i)",
                _moe_dense_compute),
    ],
    "balance_loss": [
        Mistake("forgetting the factor N", "multiply by N: balanced routing must give 1 "
                "(top-1)", _no_factor_n),
        Mistake("f_i from the gate values", "f_i is the share of tokens *routed* to expert i "
                "(from expert_indices), not the mean gate value", _f_from_probs),
        Mistake("only the first of the k experts counted", "with top-k routing a token counts "
                "in f_i for each of its k experts", _top1_only),
    ],
}

WRONG_SUBMISSION = (
    "moe_layer",
    "y.index_add_(0, token, weights[token, slot, None] * out)",
    "y.index_add_(0, token, out)",
)

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_moe_layer": (1, "multiply each expert's output by its gate value"),
}
