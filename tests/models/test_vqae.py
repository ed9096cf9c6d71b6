"""Stage-1 VQ autoencoders (fwilab.models.vqae): shapes from the acquisition, both variants, gradients,
the latent layout of 2VQ and 1VQ, code round trip, the loss, bad input."""

import pytest
import torch

from fwilab.models.vqae import ENCODERS, VARIANTS, VQAEConfig, VQAutoencoder, reconstruction_terms, vqae_loss
from fwilab.physics.acquisition import OPENFWI

#: a small survey: 3 shots × 16 receivers, 48 samples (12 after ×4 decimation), 16² map
TINY = OPENFWI.replace(nt=48, nz=16, nx=16, nbc=8, source_x=(0, 8, 15), receiver_x=tuple(range(16)))


def tiny(variant="2vq", **overrides) -> VQAutoencoder:
    torch.manual_seed(0)
    return VQAutoencoder(VQAEConfig.preset("smoke", TINY, variant=variant, **overrides))


def pair(config: VQAEConfig, batch=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    seismic = torch.rand(batch, *config.seismic_shape, generator=g) * 2 - 1
    velocity = torch.rand(batch, *config.velocity_shape, generator=g) * 2 - 1
    return seismic, velocity


# ----------------------------------------------------------------------------- tier 1: shapes


def test_shapes_come_from_the_acquisition():
    config = VQAEConfig.preset("cpu")
    assert (config.n_shots, config.nt, config.n_receivers, config.nz, config.nx) == (5, 250, 70, 70, 70)
    tiny_config = VQAEConfig.preset("smoke", TINY)
    assert tiny_config.seismic_shape == (3, 12, 16) and tiny_config.velocity_shape == (1, 16, 16)
    assert VQAEConfig.preset("smoke", TINY, time_decimation=1).nt == 48


def test_full_preset_has_the_papers_sizes():
    config = VQAEConfig.preset("full")
    assert config.latent_size == (16, 16) and config.velocity_size == (64, 64)
    assert (config.embed_dim, config.codebook_size, config.num_res_blocks) == (32, 8192, 3)
    assert config.velocity_mult == (1, 2, 2, 4, 4) and config.seismic_mult == (1, 2, 2, 4, 4, 4, 8, 8)
    assert (config.commitment_weight, config.ema_decay) == (0.25, 0.99)


@pytest.mark.parametrize("variant,channels", [("2vq", 8), ("1vq", 4)])
def test_shapes_of_each_stage(variant, channels):
    model = tiny(variant)
    c = model.config
    assert c.latent_channels == channels
    seismic, velocity = pair(c)
    latent = model.encode(seismic, velocity)
    assert latent.shape == (3, channels, 4, 4) and latent.dtype == torch.float32
    latent_q, indices, aux = model.quantize(latent)
    assert latent_q.shape == latent.shape and indices.shape == (3, c.n_codebooks, 4, 4)
    assert aux["perplexity"].shape == (c.n_codebooks,) and aux["usage"].shape == (c.n_codebooks,)
    seismic_hat, velocity_hat = model.decode(latent_q)
    assert seismic_hat.shape == seismic.shape and velocity_hat.shape == velocity.shape
    out = model(seismic, velocity)
    assert out.seismic.shape == seismic.shape and out.velocity.shape == velocity.shape
    assert out.latent.shape == out.latent_q.shape == latent.shape


def test_the_openfwi_velocity_is_resized_to_64_and_back_to_70():
    model = VQAutoencoder(VQAEConfig.preset("smoke", velocity_size=(64, 64), velocity_mult=(1, 2, 2, 2, 2)))
    seismic, velocity = pair(model.config, batch=1)
    assert velocity.shape == (1, 1, 70, 70) and seismic.shape == (1, 5, 250, 70)
    out = model(seismic, velocity)
    assert out.velocity.shape == (1, 1, 70, 70) and out.seismic.shape == (1, 5, 250, 70)


# ----------------------------------------------------------------------------- tier 2: gradients


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_parameter_gets_a_gradient(variant, encoder):
    # two channels a group: with one channel a group (the smoke width, 8 channels, gcd(32, 8) = 8 groups) a
    # GroupNorm cancels the bias of the conv ahead of it and that bias's gradient is rounding noise (~1e-9)
    model = tiny(variant, norm_groups=2, encoder=encoder).train()
    seismic, velocity = pair(model.config)
    out = model(seismic, velocity)
    loss, _ = model.loss(out, seismic, velocity)
    loss.backward()
    params = dict(model.named_parameters())
    assert any(n.startswith("fuse") for n in params) == (variant == "1vq" and encoder == "pair")
    assert any(n.startswith("velocity_encoder") for n in params) == (encoder == "pair")
    missing = [n for n, p in params.items() if p.grad is None or not float(p.grad.abs().max()) > 1e-6]
    assert missing == []
    assert all(b.grad is None for b in model.buffers())          # the EMA codebooks are buffers


# ----------------------------------------------------------------------------- tier 3: invariants


@pytest.mark.parametrize("variant", VARIANTS)
def test_indices_to_codes_round_trip(variant):
    model = tiny(variant).eval()
    latent = model.encode(*pair(model.config))
    latent_q, indices, _ = model.quantize(latent)
    torch.testing.assert_close(model.codes(indices), latent_q)
    again_q, again, _ = model.quantize(latent_q)                 # a quantised latent is a fixed point
    assert torch.equal(again, indices)
    torch.testing.assert_close(again_q, latent_q)


def test_2vq_decodes_each_modality_from_its_own_half():
    model = tiny("2vq").eval()
    latent_q, _, _ = model.quantize(model.encode(*pair(model.config)))
    d = model.config.embed_dim
    s0, v0 = model.decode(latent_q)
    changed = latent_q.clone()
    changed[:, d:] += 1.0                                        # the velocity half only
    s1, v1 = model.decode(changed)
    torch.testing.assert_close(s1, s0)
    assert not torch.allclose(v1, v0)


def test_1vq_decoders_read_one_shared_latent():
    model = tiny("1vq").eval()
    latent_q, _, _ = model.quantize(model.encode(*pair(model.config)))
    s0, v0 = model.decode(latent_q)
    s1, v1 = model.decode(latent_q + 1.0)
    assert not torch.allclose(s1, s0) and not torch.allclose(v1, v0)
    assert len(model.quantizers) == 1


def test_both_encoders_reach_the_1vq_latent_of_a_pair_encoder():
    model = tiny("1vq", encoder="pair").eval()
    seismic, velocity = pair(model.config)
    base = model.encode(seismic, velocity)
    assert not torch.allclose(model.encode(seismic.flip(0), velocity), base)
    assert not torch.allclose(model.encode(seismic, velocity.flip(0)), base)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_seismic_encoder_reads_the_records_only_and_inverts(variant):
    """The paper's stage 1: the latent is a function of the records, so the model is an FWI network."""
    model = tiny(variant).eval()
    seismic, velocity = pair(model.config)
    base = model.encode(seismic)
    torch.testing.assert_close(model.encode(seismic, velocity.flip(0)), base)   # the velocity is not read
    assert not torch.allclose(model.encode(seismic.flip(0)), base)
    inverted = model.invert(seismic)
    assert inverted.shape == velocity.shape
    torch.testing.assert_close(inverted, model.decode(model.quantize(base, update=False)[0])[1])
    with pytest.raises(ValueError, match="needs the velocity too"):
        tiny(variant, encoder="pair").invert(seismic)


def test_training_forward_moves_the_codebook_and_update_false_does_not():
    model = tiny("2vq").train()
    seismic, velocity = pair(model.config)
    before = [q.codebook.clone() for q in model.quantizers]
    model.quantize(model.encode(seismic, velocity), update=False)
    assert all(torch.equal(q.codebook, b) for q, b in zip(model.quantizers, before))
    model(seismic, velocity)
    assert all(not torch.equal(q.codebook, b) for q, b in zip(model.quantizers, before))


def test_loss_is_l1_plus_weighted_sobel_plus_commitment():
    model = tiny("2vq", sobel_weight=0.5).eval()
    seismic, velocity = pair(model.config)
    out = model(seismic, velocity)
    total, parts = model.loss(out, seismic, velocity)
    s_terms, v_terms = reconstruction_terms(out.seismic, seismic), reconstruction_terms(out.velocity, velocity)
    expected = (s_terms["l1"] + 0.5 * s_terms["sobel"] + v_terms["l1"] + 0.5 * v_terms["sobel"]
                + out.aux["commitment_loss"])
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(parts["seismic_l1"], (out.seismic - seismic).abs().mean())
    assert set(parts) == {"seismic_l1", "seismic_sobel", "velocity_l1", "velocity_sobel", "commitment"}
    no_sobel, _ = vqae_loss(out, seismic, velocity, sobel_weight=0.0)
    torch.testing.assert_close(no_sobel, s_terms["l1"] + v_terms["l1"] + out.aux["commitment_loss"])


def test_the_sobel_term_vanishes_for_a_shift_and_not_for_a_blur():
    x = torch.rand(2, 3, 8, 8)
    assert float(reconstruction_terms(x + 0.3, x)["sobel"]) < 1e-6
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    assert float(reconstruction_terms(blurred, x)["sobel"]) > 1e-2


# ----------------------------------------------------------------------------- bad input


def test_bad_input_raises_a_clear_error():
    model = tiny("2vq")
    seismic, velocity = pair(model.config)
    with pytest.raises(ValueError, match=r"seismic must be \[batch, 3, 12, 16\]"):
        model(torch.randn(3, 3, 48, 16), velocity)
    with pytest.raises(ValueError, match=r"velocity must be \[batch, 1, 16, 16\]"):
        model(seismic, torch.randn(3, 1, 70, 70))
    with pytest.raises(ValueError, match="batches differ"):
        model(seismic, velocity[:2])
    with pytest.raises(ValueError, match=r"2vq latent must be \[batch, 8, 4, 4\]"):
        model.decode(torch.randn(3, 4, 4, 4))
    with pytest.raises(ValueError, match="indices"):
        model.codes(torch.zeros(3, 1, 4, 4, dtype=torch.long))


@pytest.mark.parametrize("overrides,match", [
    (dict(variant="3vq"), "variant"),
    (dict(velocity_size=(70, 70)), "power-of-two"),
    (dict(seismic_mult=(1, 2)), "halvings"),
    (dict(embed_dim=0), "embed_dim"),
    (dict(ema_decay=1.5), "ema_decay"),
    (dict(codebook_sizes=3), "unknown VQAEConfig field"),
])
def test_bad_config_raises_a_clear_error(overrides, match):
    with pytest.raises(ValueError, match=match):
        VQAEConfig.preset("smoke", TINY, **overrides)


def test_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile"):
        VQAEConfig.preset("huge")
