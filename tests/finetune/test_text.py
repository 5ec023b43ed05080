"""The text pieces: tokenizer and corpus, the encoder's padding mask, the decoder's causal
mask, and the SFT loss against the Hugging Face-style reference (labels -100 off the answer)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import yaml

from trainlab.data import TOKENIZER, answer_mask, arithmetic_pairs, load_dataset
from trainlab.losses import sft_loss
from trainlab.models import create_model
from trainlab.models.layers import MultiHeadSelfAttention, attention, padding_mask


def test_corpus_is_seeded_correct_and_round_trips() -> None:
    pairs = arithmetic_pairs(500, seed=3)
    assert pairs == arithmetic_pairs(500, seed=3) and pairs != arithmetic_pairs(500, seed=4)
    assert len(set(pairs)) == 500
    for prompt, answer in pairs:
        assert int(answer) == eval(prompt[:-1])
    ids = TOKENIZER.encode("12+7=19", length=10)
    assert ids[0] == TOKENIZER.cls_id and ids[8] == TOKENIZER.sep_id and ids[9] == 0
    assert TOKENIZER.decode(ids) == "12+7=19"
    b = load_dataset("arith", seed=0)
    assert b.train.x.dtype == torch.int64 and b.in_shape == (11,) and b.num_outputs == 10
    # the label is the answer's last digit
    row = TOKENIZER.decode(b.train.x[0])
    assert int(b.train.y[0]) == int(row.split("=")[1][-1])
    with pytest.raises(ValueError, match="outside"):
        TOKENIZER.encode("1*2")


def test_answer_mask() -> None:
    x = torch.tensor([TOKENIZER.encode("12+7=19", length=10)])
    # [CLS] 1 2 + 7 = 1 9 [SEP] [PAD]: the answer is 1 9 [SEP]
    assert answer_mask(x).int().tolist() == [[0, 0, 0, 0, 0, 0, 1, 1, 1, 0]]


def test_sft_loss_matches_ignore_index_reference() -> None:
    torch.manual_seed(0)
    x = torch.tensor([TOKENIZER.encode(p + a, length=11) for p, a in arithmetic_pairs(6)])
    logits = torch.randn(6, 11, TOKENIZER.vocab_size)
    mask = answer_mask(x)
    labels = torch.where(mask, x, -100)[:, 1:]  # shifted labels, -100 = not scored
    ref = F.cross_entropy(logits[:, :-1].flatten(0, 1), labels.flatten(), ignore_index=-100)
    torch.testing.assert_close(sft_loss(logits, x, mask), ref)
    ref_sum = F.cross_entropy(
        logits[:, :-1].flatten(0, 1), labels.flatten(), ignore_index=-100, reduction="sum"
    )
    torch.testing.assert_close(sft_loss(logits, x, mask, "sum"), ref_sum)
    # prompt logits do not matter
    other = logits.clone()
    other[:, :4] += 5 * torch.randn(6, 4, TOKENIZER.vocab_size)
    torch.testing.assert_close(sft_loss(other, x, mask), sft_loss(logits, x, mask))
    with pytest.raises(ValueError, match="sft_loss: expected"):
        sft_loss(logits[0], x, mask)


def test_masked_attention_matches_the_formula() -> None:
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(8, 2)
    x = torch.randn(2, 5, 8)
    ids = torch.tensor([[1, 5, 6, 0, 0], [1, 5, 6, 7, 8]])
    mask = padding_mask(ids, 0)
    q, k, v = attn.qkv(x).reshape(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
    ref = attn.proj(attention(q, k, v, mask).transpose(1, 2).reshape(2, 5, 8))
    torch.testing.assert_close(attn(x, mask), ref)


def test_encoder_ignores_padding_and_decoder_is_causal() -> None:
    torch.manual_seed(0)
    enc = create_model("text_encoder", num_classes=3, in_shape=(14,)).eval()
    x = torch.tensor([TOKENIZER.encode("12+7=19", length=11)])
    longer = torch.tensor([TOKENIZER.encode("12+7=19", length=14)])  # 3 more [PAD]
    torch.testing.assert_close(enc(x), enc(longer))  # [CLS] never sees a padding key
    dec = create_model("text_decoder", num_classes=1, in_shape=(11,)).eval()
    y = x.clone()
    y[0, 7] = TOKENIZER.id("3")
    torch.testing.assert_close(dec(x)[:, :7], dec(y)[:, :7])  # earlier positions unchanged
    assert not torch.allclose(dec(x)[:, 7:], dec(y)[:, 7:])
    out = dec.generate(x[:, :6], 5, stop_id=TOKENIZER.sep_id)
    assert out.shape[0] == 1 and 6 < out.shape[1] <= 11
    with pytest.raises(ValueError, match="needs token sequences"):
        create_model("text_encoder", num_classes=3, in_shape=(1, 8, 8))


def test_builtin_recipes_validate() -> None:
    from importlib import resources

    from trainlab.recipes.schema import Config

    folder = resources.files("trainlab.recipes").joinpath("builtin")
    for name in ("mlm-text.yaml", "sft-arith.yaml", "finetune-progressive.yaml"):
        text = folder.joinpath(name).read_text()
        assert text.startswith("# description:") and "\n# source:" in text
        Config.model_validate(yaml.safe_load(text))


@pytest.mark.parametrize("name", ["text_encoder", "text_decoder"])
def test_text_models_train_and_build_from_a_config(name: str) -> None:
    from trainlab.recipes.load import load_config
    from trainlab.train.build import build_model

    torch.manual_seed(0)
    model = build_model(load_config(overrides=[f"model.name={name}"]), 3, (11,))
    x = torch.tensor([TOKENIZER.encode(p + a, length=11) for p, a in arithmetic_pairs(4)])
    y = torch.tensor([0, 1, 2, 0])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(2):
        out = model(x)
        if name == "text_decoder":  # (4, 11, V): next-token loss
            loss = F.cross_entropy(out[:, :-1].flatten(0, 1), x[:, 1:].flatten())
        else:  # (4, 3) from [CLS]
            loss = F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    moved = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    # the encoder's mlm_head gets no gradient from classification
    assert moved >= len(before) - 2
