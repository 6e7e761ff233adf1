# %% [markdown]
# # Part 1e: Comparing parameter-efficient fine-tuning methods
#
# **Lecture 11, Model Efficiency: parameter-efficient fine-tuning.** You have built prompt
# tuning, prefix tuning, adapters and LoRA in the earlier notebooks. Here you add the simplest
# method of all, BitFit, and put every method side by side on the same task, measured the way the
# lecture's LoRA table reports them: trainable parameters and accuracy, plus what PEFT promises
# beyond accuracy (less training memory, faster training, a small file per task).
#
# | | |
# |---|---|
# | You will write | `apply_bitfit` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 25 minutes; the comparison runs in under a minute on a laptop CPU |
#
# **Your own code runs here.** The comparison imports the exercise cells of your notebooks
# `adapters.ipynb`, `lora.ipynb` and `prompt_tuning.ipynb` (keep them next to this one). A method
# whose notebook is missing or unfinished is skipped with a message; finish it and re-run.
#
# **How feedback works.** After the exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees. When your notebook is graded, hidden tests run
# your code on random inputs and compare it with the reference. Do not rename `apply_bitfit`.

# %% [setup]
import statistics

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib import measure, plotting, widgets
from course_lib.checks.peft_comparison import check_bitfit_step, check_bitfit_trainable
from course_lib.datasets import TOPICS, few_shot, load_topic
from course_lib.model import CLSClassifier
from course_lib.nbimport import ExerciseNotDone, import_notebook
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import get_device, set_seed
from course_lib.training import evaluate, make_batches, train_classifier

# %% [markdown]
# ## 1. The lecture's table
#
# The LoRA paper (Hu et al., 2021) compares methods on GLUE with RoBERTa-base:
#
# | Method | # Trainable parameters | Avg. GLUE |
# |---|---|---|
# | Full fine-tuning | 125.0M | 86.4 |
# | BitFit | 0.1M | 85.2 |
# | Adapter (Adpt^D) | 0.3M | 84.4 |
# | Adapter (Adpt^D) | 0.9M | 85.4 |
# | LoRA | 0.3M | 87.2 |
#
# Three things to notice: methods that train 0.1% to 1% of the parameters come within a couple of
# points of full fine-tuning (LoRA even beats it); more trainable parameters do not guarantee more
# accuracy; and the table reports a mean **with its spread over seeds** ($\pm$), because with so
# few parameters the random seed matters. We reproduce the table's shape on our 4-topic task.

# %%
set_seed(0)
tok = load_tokenizer()
train, test = load_topic("train"), load_topic("test")

# %% [markdown]
# ## 2. BitFit: train only the biases
#
# Every linear map in the transformer computes $W x + b$. BitFit (Ben Zaken et al., 2022) freezes
# every weight matrix $W$ and trains only the **bias terms** $b$: those of $W_q, W_k, W_v, W_o$,
# of the feed-forward layers and of the LayerNorms ($\gamma \odot \hat{x} + \beta$: $\beta$ is a
# bias too). For RoBERTa-base that is about 0.1M of 125M parameters. The new classifier head
# ($W h_{\texttt{[CLS]}} + b$) is task-specific, so it trains completely.
#
# ### Exercise 1 ({{points}} points): `apply_bitfit`
#
# Write `apply_bitfit(model)` for a `CLSClassifier` (`model.encoder`, `model.head`): freeze every
# parameter, then make trainable (a) every parameter of `model.encoder` whose name ends in `bias`,
# **except** `encoder.lm_head.bias`: the encoder carries its pre-training MLM head, which a [CLS]
# classifier never calls, so its bias would get no gradient; and (b) every parameter of
# `model.head`. Return the model.

# %% [solution] id=apply_bitfit
def apply_bitfit(model: CLSClassifier) -> CLSClassifier:
    ### BEGIN SOLUTION
    for p in model.parameters():
        p.requires_grad = False
    for name, p in model.encoder.named_parameters():
        if name.endswith("bias") and not name.startswith("lm_head"):
            p.requires_grad = True                                       # every b, and beta
    for p in model.head.parameters():
        p.requires_grad = True                                           # the new task head
    return model
    ### END SOLUTION


# %% [tests] id=test_bitfit_trainable points=2
check_bitfit_trainable(apply_bitfit)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("peft_comparison.bitfit", apply_bitfit=apply_bitfit)
### END HIDDEN TESTS

# %% [tests] id=test_bitfit_step points=2
check_bitfit_step(apply_bitfit)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("peft_comparison.bitfit_step", apply_bitfit=apply_bitfit)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Every method, from your own notebooks
#
# Each method is a function that builds a fresh model from the pre-trained encoder and says
# which learning rate it trains with. Methods that train few parameters starting from the
# pre-trained function (BitFit, adapters, LoRA, prompts) need a larger learning rate than full
# fine-tuning; the values below were chosen on the dev set.
#
# Prompt tuning and prefix tuning come from Part 1b, where they classify through the [MASK]
# token and a verbalizer (pattern `"{x} [MASK]"`, $n = 8$, the soft prompt initialised from the
# words of a hand-written prompt, Part 1b's learning rates); the other methods use the [CLS]
# head. All read the same sentences and predict the same four topics, so their accuracies
# compare.

# %% [skip-grading]
def try_import(name):
    try:
        return import_notebook(name)
    except (FileNotFoundError, ExerciseNotDone) as e:
        print(f"skipping the methods of {name}: {e}")
    except Exception as e:                                     # a bug in that notebook's code
        print(f"skipping the methods of {name}: {type(e).__name__}: {e}")
    return None


adapters_nb = try_import("adapters.ipynb")
lora_nb = try_import("lora.ipynb")
prompt_nb = try_import("prompt_tuning.ipynb")


def cls_model(encoder):
    return CLSClassifier(encoder, num_labels=len(TOPICS))


METHODS = {                      # name -> (build() -> model, template or None, learning rate)
    "Full fine-tuning": (lambda: cls_model(load_encoder()), None, 1e-3),
    "BitFit": (lambda: apply_bitfit(cls_model(load_encoder())), None, 1e-2),
}
if adapters_nb is not None:
    METHODS["Adapter (m = 4)"] = (
        lambda: cls_model(adapters_nb.add_adapters(load_encoder(), reduction=16)), None, 5e-3)
if lora_nb is not None:
    METHODS["LoRA r = 8 (W_q, W_v)"] = (
        lambda: cls_model(lora_nb.add_lora(load_encoder(), r=8, alpha=16)), None, 5e-3)
if prompt_nb is not None:                      # Part 1b classifies through [MASK] + verbalizer
    try:
        label_ids = [tok.token_id(w) for w in prompt_nb.LABEL_WORDS]
        init_ids = tok.encode("please read this sentence : what is the topic ?", add_cls=False)

        def soft_prompt_model(n=8):
            enc = load_encoder()
            return prompt_nb.SoftPromptMLM(
                enc, prompt_nb.SoftPrompt(enc.embed.tok, n, "text", init_ids), label_ids)

        def prefix_model(n=8):
            enc = load_encoder()
            c = enc.config
            return prompt_nb.PrefixTuningMLM(
                enc, prompt_nb.PrefixEncoder(n, c.n_layers, c.d_model, c.n_heads), label_ids)

        pattern = lambda x: f"{x} [MASK]"
        METHODS["Prompt tuning (n = 8)"] = (soft_prompt_model, pattern, 3e-2)
        METHODS["Prefix tuning (n = 8)"] = (prefix_model, pattern, 1e-2)
    except AttributeError as e:
        print(f"prompt_tuning.ipynb does not define what this comparison needs ({e}): "
              "prompt and prefix tuning skipped")
print("methods:", ", ".join(METHODS))

# %% [markdown]
# ## 4. The comparison
#
# To fit every method and three seeds into a minute of CPU time, each run trains for **2 epochs
# on a balanced subset of 640 training sentences** (160 per topic) and is evaluated on the full
# test set (800 sentences). Accuracies are therefore a little below those of the earlier
# notebooks, which trained on all 2,400 sentences. For each method we record:
#
# * trainable parameters, and the bytes a task must store (its trainable parameters, fp32);
# * test accuracy: mean and standard deviation over seeds 0, 1, 2 (seed = initialisation of the
#   new parameters and the order of the training batches);
# * training time per step, as a ratio to full fine-tuning (measured in this run: timings on a
#   shared machine are only comparable within one run);
# * peak memory of one training step (forward, backward, AdamW update), measured with
#   `course_lib.measure.peak_memory`: gradients and optimizer states exist only for trainable
#   parameters.

# %% [skip-grading]
SEEDS, EPOCHS = (0, 1, 2), 2
subset = few_shot(train, per_class=160, seed=0)


def one_step(model, batch, lr, template=None):
    """One training step with a fresh AdamW: what peak_memory measures."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    F.cross_entropy(logits, batch["labels"]).backward()
    opt.step()


def run_method(build, template, lr, seeds=SEEDS):
    accs, step_seconds = [], []
    for seed in seeds:
        set_seed(seed)
        model = build()
        run = train_classifier(model, tok, subset, epochs=EPOCHS, lr=lr, seed=seed,
                               template=template, progress=False)
        step_seconds.append(run["seconds"] / len(run["losses"]))
        accs.append(evaluate(model, tok, test, template=template))
    set_seed(0)
    model = build().to(get_device()).train()   # one_step does not move it, unlike train_classifier
    batch = next(make_batches(tok, subset, batch_size=32, template=template))
    peak = measure.peak_memory(lambda: one_step(model, batch, lr, template))
    trainable = measure.count_parameters(model, trainable_only=True)
    stored = measure.model_size_bytes([p for p in model.parameters() if p.requires_grad])
    return {"accs": accs, "mean": statistics.mean(accs), "std": statistics.stdev(accs),
            "trainable": trainable, "total": measure.count_parameters(model),
            "step_s": statistics.median(step_seconds), "peak": peak, "bytes": stored}


results = {}
for name, (build, template, lr) in METHODS.items():
    try:
        results[name] = run_method(build, template, lr)
    except NotImplementedError as e:                       # an exercise of this notebook
        print(f"skipping {name}: {e}")
        continue
    r = results[name]
    print(f"{name:<24} {r['mean']:.1%} ± {r['std']:.1%}  ({r['trainable']:,} trainable)")

# %% [skip-grading]
full = results["Full fine-tuning"]
plotting.show_table(
    ["Method", "# Trainable parameters", "Test accuracy (3 seeds)", "Time per step",
     "Peak memory (1 step)", "Storage per task"],
    [(name, f"{r['trainable']:,} ({r['trainable'] / r['total']:.2%})",
      f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f}",
      f"{r['step_s'] * 1e3:.0f} ms ({r['step_s'] / full['step_s']:.2f}x)",
      f"{measure.format_bytes(r['peak'])} ({r['peak'] / max(full['peak'], 1):.2f}x)",
      measure.format_bytes(r["bytes"]))
     for name, r in results.items()],
    title=f"Topic classification, {len(subset)} training sentences, {EPOCHS} epochs")

# %% [markdown]
# **Accuracy against trainable parameters.** Each point is a method (mean over seeds, bar = one
# standard deviation); the x axis is logarithmic, so each tick is ten times more parameters.

# %% [skip-grading]
names = list(results)
fig = plotting.accuracy_vs_params(names, [results[n]["trainable"] for n in names],
                                  [results[n]["mean"] for n in names],
                                  errors=[results[n]["std"] for n in names],
                                  title="PEFT methods on the topic task (3 seeds)")
for i, label in enumerate(fig.axes[0].texts):                  # keep close labels apart
    label.xyann = (5, 6 if i % 2 == 0 else -12)
widgets.table_slider(names, results, "method", lambda n, r: (
    f"<b>{n}</b>: accuracy per seed {', '.join(f'{a:.1%}' for a in r['accs'])}; "
    f"{r['trainable']:,} trainable parameters = {r['trainable'] / full['trainable']:.2%} of full "
    f"fine-tuning; stores {measure.format_bytes(r['bytes'])} per task"))

# %% [markdown]
# ## Summary
#
# * BitFit trains only the bias terms (under 1% of our encoder, 0.1% of RoBERTa-base) and comes
#   within a point of full fine-tuning on this task, as in the lecture's table.
# * Adapters and LoRA train 1-3% of our tiny encoder's parameters (well under 1% of a large one)
#   and also come within about two points; the spread over seeds is of the same order as the
#   differences between these methods, which is why the lecture's table reports $\pm$.
# * Prompt tuning and prefix tuning train the fewest parameters but, with this small training
#   budget and a 4-layer model, stay far behind: the lecture's PT vs PT-2 table shows the same
#   at small scale (prompt tuning only catches up at billions of parameters). They learn slowly
#   (Part 1b trains them on all 2,400 sentences) and are the most sensitive to the budget.
# * Frozen weights need no weight gradient and no optimizer state, so a PEFT step needs less
#   memory and is somewhat faster; not dramatically, because the backward pass still runs
#   through the whole network to reach the adapters, LoRA matrices or prompts.
# * Each task stores only its trainable parameters: kilobytes instead of a full copy.
#
# **Check yourself.** (1) Why is the LayerNorm's $\beta$ a bias for BitFit but $\gamma$ is not?
# (2) Why does the backward pass of LoRA still reach the first layer? (3) Which method adds
# latency at inference, and which can be merged away? *(Answers: $\beta$ is added, $\gamma$
# multiplies; $A$ and $B$ sit in every layer, so the gradient must flow down to layer 1 (only the
# weight gradients of frozen matrices are skipped); adapters and prompts/prefixes add work at
# inference, LoRA merges into $W$ and BitFit changes only existing biases.)*
