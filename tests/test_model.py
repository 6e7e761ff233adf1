"""The tiny transformer against independent references: torch's attention and nn.MultiheadAttention."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib.model import (
    Attention,
    CLSClassifier,
    Decoder,
    Encoder,
    TransformerConfig,
    causal_mask,
    scaled_dot_product_attention,
)

CFG = dict(vocab_size=40, d_model=16, n_heads=4, n_layers=2, d_ff=32, max_len=20, dropout=0.0)


def test_attention_matches_torch_sdpa():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 5, 8) for _ in range(3))
    mask = torch.rand(2, 1, 5, 5) > 0.3
    mask[..., 0] = True                      # every query sees at least one key
    ours, _ = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)


def test_attention_module_matches_nn_multihead_attention():
    torch.manual_seed(0)
    cfg = TransformerConfig(**CFG)
    ours = Attention(cfg).eval()
    ref = nn.MultiheadAttention(cfg.d_model, cfg.n_heads, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.W_q.weight, ours.W_k.weight, ours.W_v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.W_q.bias, ours.W_k.bias, ours.W_v.bias]))
        ref.out_proj.weight.copy_(ours.W_o.weight)
        ref.out_proj.bias.copy_(ours.W_o.bias)
    x = torch.randn(3, 7, cfg.d_model)
    allowed = causal_mask(7, 7)
    ref_out, _ = ref(x, x, x, attn_mask=~allowed, need_weights=False)   # torch: True = blocked
    torch.testing.assert_close(ours(x, allowed[None, None]), ref_out, atol=1e-5, rtol=1e-4)


def test_causal_mask_with_offset():
    assert causal_mask(3, 3).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert causal_mask(1, 4).all()           # one new query sees the whole past
    assert causal_mask(2, 4).tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]


def test_decoder_is_causal():
    torch.manual_seed(0)
    model = Decoder(TransformerConfig(**CFG, causal=True)).eval()
    ids = torch.randint(7, 40, (1, 10))
    changed = ids.clone()
    changed[0, 6:] = 8
    a, b = model(input_ids=ids)["logits"], model(input_ids=changed)["logits"]
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_encoder_ignores_padding():
    torch.manual_seed(0)
    model = Encoder(TransformerConfig(**CFG)).eval()
    ids = torch.randint(7, 40, (1, 6))
    padded = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    mask = torch.tensor([[1] * 6 + [0] * 3])
    torch.testing.assert_close(model(input_ids=ids)["hidden"],
                               model(input_ids=padded, attention_mask=mask)["hidden"][:, :6],
                               atol=1e-5, rtol=1e-4)


def test_inputs_embeds_equal_input_ids():
    torch.manual_seed(0)
    model = Encoder(TransformerConfig(**CFG)).eval()
    ids = torch.randint(7, 40, (2, 6))
    torch.testing.assert_close(model(input_ids=ids)["logits"],
                               model(inputs_embeds=model.embed.tok(ids))["logits"])


def test_extension_points_default_to_identity():
    torch.manual_seed(0)
    model = Encoder(TransformerConfig(**CFG)).eval()
    ids = torch.randint(7, 40, (2, 6))
    base = model(input_ids=ids)["logits"]
    for block in model.blocks:
        block.attn.kv_hook = lambda k, v, m: (k, v, m)
    torch.testing.assert_close(model(input_ids=ids)["logits"], base)
    model.blocks[0].attn.head_gate[1] = 0.0      # gating a head changes the output
    assert not torch.allclose(model(input_ids=ids)["logits"], base)


def test_bad_input_is_named():
    model = Encoder(TransformerConfig(**CFG))
    with pytest.raises(ValueError, match="exactly one"):
        model()
    with pytest.raises(ValueError, match="max_len"):
        model(input_ids=torch.zeros(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match="causal"):
        Decoder(TransformerConfig(**CFG))


def test_cls_classifier_shape():
    model = CLSClassifier(Encoder(TransformerConfig(**CFG)), num_labels=4)
    assert model(input_ids=torch.randint(7, 40, (3, 5))).shape == (3, 4)


def test_left_padding_gives_finite_outputs_and_ignores_pads():
    torch.manual_seed(0)
    model = Decoder(TransformerConfig(**CFG, causal=True)).eval()
    ids = torch.randint(7, 40, (1, 5))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], dim=1)
    mask = torch.tensor([[0] * 3 + [1] * 5])
    positions = torch.tensor([[0, 0, 0, 0, 1, 2, 3, 4]])
    out = model(input_ids=padded, attention_mask=mask, position_ids=positions)["logits"]
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, 3:], model(input_ids=ids)["logits"], atol=1e-5, rtol=1e-4)
