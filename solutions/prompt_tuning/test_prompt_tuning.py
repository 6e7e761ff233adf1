"""The prompt-tuning reference (solutions/prompt_tuning/prompt_tuning.ipynb) against peft and
naive code.

- hard prompt: the frozen encoder's full MLM logits read at the [MASK] by a loop;
- soft prompt MLM: a prompt initialised from the embeddings of 3 words scores like those 3 words
  typed in front of [CLS] (the [MASK] moved by n);
- soft prompt: peft's PromptTuning on a tiny transformers BERT (prompt weights copied in): the
  prepended inputs_embeds and the extended attention mask give the same hidden states;
- prefix layout: peft's PrefixEncoder + get_prompt (same embedding weights) gives the same
  per-layer keys and values as our PrefixEncoder, with and without the reparameterisation;
- prefix attention: our kv_hook-based PrefixTuningMLM and PrefixTuningLM against a naive
  re-implementation of the forward that runs torch's scaled_dot_product_attention over
  [P_k ; K], [P_v ; V] (bidirectional, and causal for the decoder);
- the visible checks pass the reference and catch every named mistake (the hidden cases'
  side is tests/test_mistakes.py).
"""

import warnings
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograde.spec import mistakes_module
from course_lib.checks import CheckFailed
from course_lib.checks import prompt_tuning as checks
from course_lib.model import Decoder, Encoder, TransformerConfig

MASK_ID = 4

ROOT = Path(__file__).resolve().parents[2]
PEFT_REASON = "peft is a dev dependency (pip install -e .[dev])"


def _tiny_bert(seed=0, layers=3, d=16, heads=2):
    transformers = pytest.importorskip("transformers", reason=PEFT_REASON)
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=d, num_hidden_layers=layers,
                                  num_attention_heads=heads, intermediate_size=2 * d,
                                  max_position_embeddings=32, hidden_dropout_prob=0.0,
                                  attention_probs_dropout_prob=0.0)
    return transformers.BertModel(cfg).eval()


def _ids():
    torch.manual_seed(1)
    ids = torch.randint(5, 50, (3, 7))
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 5:] = 0
    mask[2, 3:] = 0
    return ids * mask, mask


# ------------------------------------------------------------------------------ soft prompt
def test_soft_prompt_matches_peft_prompt_tuning(ref):
    peft = pytest.importorskip("peft", reason=PEFT_REASON)
    n = 4
    bert = _tiny_bert()
    ours = ref["SoftPrompt"](bert.embeddings.word_embeddings, n, "vocab")
    ids, mask = _ids()
    x, ext = ours(bert.embeddings.word_embeddings(ids), mask)
    with torch.no_grad():
        mine = bert(inputs_embeds=x, attention_mask=ext).last_hidden_state       # (B, n + T, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = peft.get_peft_model(_tiny_bert(), peft.PromptTuningConfig(
            task_type="FEATURE_EXTRACTION", num_virtual_tokens=n))
    with torch.no_grad():
        theirs.prompt_encoder["default"].embedding.weight.copy_(ours.P)
        got = theirs(input_ids=ids, attention_mask=mask).last_hidden_state
    assert got.shape == mine.shape == (3, n + 7, 16)
    torch.testing.assert_close(mine, got, atol=1e-5, rtol=1e-4)
    assert torch.equal(ext[:, :n], torch.ones(3, n, dtype=torch.long))


def test_soft_prompt_trainable_count_is_n_times_d(ref):
    from course_lib.pretrained import load_encoder
    enc = load_encoder()
    model = ref["SoftPromptMLM"](enc, ref["SoftPrompt"](enc.embed.tok, 8), MASK_ID, [10, 11, 12, 13])
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 8 * 64


def test_text_init_repeats_like_peft(ref):
    """peft (PromptTuningInit.TEXT): ids cut to n, or repeated ceil(n / len) times then cut."""
    emb = nn.Embedding(30, 6)
    for n, text in [(5, [3, 4]), (2, [7, 8, 9]), (6, [11, 12, 13])]:
        ids = (text * -(-n // len(text)))[:n]
        P = ref["SoftPrompt"](emb, n, "text", text).P
        torch.testing.assert_close(P, emb.weight[ids], atol=0, rtol=0)


# ------------------------------------------------------------------------------ prefix layout
@pytest.mark.parametrize("projection", [False, True])
def test_prefix_layout_matches_peft(ref, projection):
    peft = pytest.importorskip("peft", reason=PEFT_REASON)
    n, L, d, H, B = 3, 3, 16, 2, 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = peft.get_peft_model(_tiny_bert(layers=L, d=d, heads=H), peft.PrefixTuningConfig(
            task_type="FEATURE_EXTRACTION", num_virtual_tokens=n, prefix_projection=projection,
            encoder_hidden_size=10))
    encoder = theirs.prompt_encoder["default"]
    ours = ref["PrefixEncoder"](n, L, d, H, projection=projection, hidden=10)
    ours.load_state_dict(encoder.state_dict())            # same names: embedding, transform
    with torch.no_grad():
        cache = theirs.get_prompt(batch_size=B)
        mine = ours(B)
    assert len(mine) == L == len(cache.layers)
    for j, layer in enumerate(cache.layers):
        assert mine[j].shape == (2, B, H, n, d // H)
        torch.testing.assert_close(mine[j][0], layer.keys, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(mine[j][1], layer.values, atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------------------ prefix attention
def _naive_prefix_forward(enc, past, ids, mask, causal=False):
    """The forward written out, attention over [P_k ; K] with torch's SDPA (queries: the real
    tokens; keys: the n prefix positions, always visible, then the tokens)."""
    x = enc.embed(enc.embed.tok(ids), torch.arange(ids.shape[1])[None].expand_as(ids))
    T = ids.shape[1]
    keep = mask.bool()[:, None, :].expand(-1, T, -1)                         # (B, T_q, T_k)
    if causal:
        keep = keep & torch.ones(T, T).tril().bool()
    keep = keep | torch.eye(T, dtype=torch.bool)       # as the model: a padding query sees itself
    for block, P in zip(enc.blocks, past):
        a = block.attn
        h = block.ln_1(x)
        q, k, v = (a.split_heads(W(h)) for W in (a.W_q, a.W_k, a.W_v))   # (B, H, T, dh)
        k = torch.cat([P[0], k], 2)
        v = torch.cat([P[1], v], 2)
        m = torch.cat([torch.ones(ids.shape[0], T, P.shape[3], dtype=torch.bool), keep], 2)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=m[:, None])
        x = x + a.W_o(a.merge_heads(o))
        x = x + block.ffn(block.ln_2(x))
    return enc.lm_head(enc.ln_f(x))                                          # (B, T, V)


@pytest.mark.parametrize("projection", [False, True])
def test_prefix_tuning_matches_naive_attention(ref, projection):
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=50, d_model=16, n_heads=2, n_layers=3, d_ff=32,
                            max_len=16, dropout=0.0)
    enc = Encoder(cfg).eval()
    pe = ref["PrefixEncoder"](4, 3, 16, 2, projection=projection, hidden=8)
    with torch.no_grad():
        for p in pe.parameters():
            p.normal_()
    label_ids = [10, 11, 12, 13]
    model = ref["PrefixTuningMLM"](enc, pe, MASK_ID, label_ids)
    ids, mask = _ids()
    ids = torch.where(ids == MASK_ID, 5, ids)
    ids[:, 2] = MASK_ID
    with torch.no_grad():
        got = model(ids, mask)
        logits = _naive_prefix_forward(enc, pe(3), ids, mask)
    torch.testing.assert_close(got, logits[:, 2][:, label_ids], atol=1e-5, rtol=1e-4)


def test_prefix_trainable_count(ref):
    from course_lib.pretrained import load_encoder
    enc = load_encoder()
    c = enc.config
    model = ref["PrefixTuningMLM"](enc, ref["PrefixEncoder"](8, c.n_layers, c.d_model, c.n_heads),
                                   MASK_ID, [10, 11, 12, 13])
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 4 * 2 * 8 * 64


def test_prefix_lm_matches_naive_causal_attention(ref):
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=50, d_model=16, n_heads=2, n_layers=3, d_ff=32,
                            max_len=16, dropout=0.0, causal=True)
    dec = Decoder(cfg).eval()
    pe = ref["PrefixEncoder"](4, 3, 16, 2)
    with torch.no_grad():
        pe.embedding.weight.normal_()
    ids, mask = _ids()
    with torch.no_grad():
        got = ref["PrefixTuningLM"](dec, pe)(ids, mask)
        want = _naive_prefix_forward(dec, pe(3), ids, mask, causal=True)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    assert all(b.attn.kv_hook is None for b in dec.blocks)


# ------------------------------------------------------------------------------ hard / soft MLM
def _encoder_with_mask_rows(seed=0):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=50, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                            max_len=24, dropout=0.0)
    enc = Encoder(cfg).eval()
    with torch.no_grad():
        enc.lm_head.bias.normal_()
    ids, mask = _ids()
    ids = torch.where(ids == MASK_ID, 5, ids)
    for b, t in enumerate([4, 2, 1]):
        ids[b, t] = MASK_ID
    return enc, ids, mask


def test_hard_prompt_reads_the_full_logits_at_the_mask(ref):
    enc, ids, mask = _encoder_with_mask_rows()
    label_ids = [30, 11, 42, 13]
    model = ref["HardPromptMLM"](enc, MASK_ID, label_ids)
    assert not any(p.requires_grad for p in enc.parameters())
    with torch.no_grad():
        got = model(ids, mask)
        logits = enc(input_ids=ids, attention_mask=mask)["logits"]             # (B, T, V)
    want = torch.tensor([[float(logits[b, row.index(MASK_ID), w]) for w in label_ids]
                         for b, row in enumerate(ids.tolist())])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_soft_prompt_from_words_scores_like_typed_words(ref):
    enc, ids, mask = _encoder_with_mask_rows(1)
    words, label_ids = [21, 22, 23], [30, 11, 42, 13]
    sp = ref["SoftPrompt"](enc.embed.tok, 3, "text", words)
    soft = ref["SoftPromptMLM"](enc, sp, MASK_ID, label_ids)
    hard = ref["HardPromptMLM"](enc, MASK_ID, label_ids)
    typed = torch.cat([torch.tensor(words)[None].expand(3, -1), ids], 1)
    with torch.no_grad():
        torch.testing.assert_close(soft(ids, mask), hard(typed, torch.cat(
            [torch.ones(3, 3, dtype=torch.long), mask], 1)), atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------------------ visible checks
CHECKED = {"hard_prompt": ("HardPromptMLM", lambda o: checks.check_hard_prompt(o["HardPromptMLM"])),
           "soft_prompt": ("SoftPrompt", lambda o: checks.check_soft_prompt(o["SoftPrompt"])),
           "soft_prompt_mlm": ("SoftPromptMLM",
                               lambda o: checks.check_soft_prompt_mlm(o["SoftPromptMLM"])),
           "p_tuning": ("PTuningPrompt",
                        lambda o: checks.check_p_tuning(o["PTuningPrompt"], o["SoftPrompt"])),
           "prefix_encoder": ("PrefixEncoder",
                              lambda o: checks.check_prefix_encoder(o["PrefixEncoder"])),
           "prefix_hook": ("prefix_hook", lambda o: checks.check_prefix_tuning(
               o["prefix_hook"], o["PrefixTuningMLM"])),
           "prefix_tuning": ("PrefixTuningMLM", lambda o: checks.check_prefix_tuning(
               o["prefix_hook"], o["PrefixTuningMLM"])),
           "prefix_lm": ("PrefixTuningLM", lambda o: checks.check_prefix_lm(o["PrefixTuningLM"]))}


@pytest.mark.parametrize("case", sorted(CHECKED))
def test_visible_checks_pass_the_reference_and_catch_each_mistake(ref, case):
    _, check = CHECKED[case]
    check(ref)
    for mistake in mistakes_module("prompt_tuning").MISTAKES.get(case, []):
        with pytest.raises(CheckFailed):
            check(mistake.make(dict(ref)))
