"""Reference fixtures for ditto's VAE decoder (models/vae), made by the official latent-diffusion code.

The decoder is CompVis/latent-diffusion's own `Decoder` (ldm/modules/diffusionmodules/model.py), imported
from a checkout named by the environment variable LDM_REPO; nothing of it is copied here. Get one from
the fetched (bare) repository with:

    mkdir -p /tmp/ldm && git --git-dir=/work/.mirror/CompVis+latent-diffusion/repo archive HEAD ldm | tar -x -C /tmp/ldm

model.py imports einops, ldm.util and ldm.modules.attention at the top, for code paths a decoder with
attn_type "vanilla" never runs (rearrange, instantiate_from_config, LinearAttention); they are replaced by
stubs that raise if called, so the decoder runs exactly as written. post_quant_conv is the 1x1 Conv2d
that ldm/models/autoencoder.py's AutoencoderKL puts before the decoder (that module needs
pytorch_lightning, so it is built here as AutoencoderKL builds it).

Usage (/usr/bin/python3 with python3-torch 1.13):

    LDM_REPO=/tmp/ldm /usr/bin/python3 tools/make_vae_fixtures.py
        test/fixtures/vae-c32-m12.{ldm,diffusers,expected}.safetensors: ch 32, ch_mult (1, 2), one ResNet
        block per level, z 4 (levels of 32 and 64 channels: one and two channels per GroupNorm group),
        F16 weights (the reference runs on exactly those values), latents [2, 4, 6, 8] -> [2, 3, 12, 16].

    LDM_REPO=/tmp/ldm /usr/bin/python3 tools/make_vae_fixtures.py --full /tmp/vae-sd
        The Stable Diffusion decoder's config (ch 128, ch_mult (1, 2, 4, 4), 2 ResNet blocks, z 4) with
        seeded F32 weights in both layouts, and latents [1, 4, 4, 4] -> [1, 3, 32, 32]: /tmp/vae-sd.*,
        about 200 MB per layout, not committed. --latent-size 32 decodes [1, 4, 32, 32] -> 256x256
        instead (about a minute of float64 PyTorch on 2 cores).

    /usr/bin/python3 tools/make_vae_fixtures.py --compare /tmp/vae-sd.expected.safetensors out.safetensors
        Prints max |images - expected| / max |expected| for ditto's output.

Layouts. `.ldm` is the original state dict of a whole AutoencoderKL: decoder.* and post_quant_conv.*, plus
stand-ins for the parts a decoder ignores (encoder.conv_in, quant_conv, loss.logvar). `.diffusers` is the
same weights renamed as diffusers' convert_ldm_vae_checkpoint does (diffusers/pipelines/stable_diffusion/
convert_from_ckpt.py): up.{i} -> up_blocks.{levels-1-i} (diffusers lists levels from the deepest),
block -> resnets, nin_shortcut -> conv_shortcut, upsample -> upsamplers.0, mid.block_{1,2} ->
mid_block.resnets.{0,1}, mid.attn_1 -> mid_block.attentions.0 with norm -> group_norm, q/k/v -> to_q/
to_k/to_v, proj_out -> to_out.0 and their 1x1 conv weights [C, C, 1, 1] cut to Linear [C, C],
norm_out -> conv_norm_out; loss.* dropped.

Values. Conv weights ~ N(0, 1/fan_in), conv biases and GroupNorm biases ~ 0.1 N(0, 1), GroupNorm weights
~ 1 + 0.1 N(0, 1): every conv sees normalised inputs, so activations stay O(1) through the stack.
Latents ~ N(0, 1) as DiT samples them; images = decoder(post_quant_conv(latents / 0.18215)), the division
in float32 as torch does it, then everything in float64 (module.double()), stored as F32. The script
prints the float32 PyTorch run's error against that (the noise floor of an f32 engine).
"""

import argparse
import importlib.util
import os
import sys
import types
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures"))
SCALE = 0.18215


def load_official_decoder():
    repo = os.environ.get("LDM_REPO")
    path = os.path.join(repo or "", "ldm", "modules", "diffusionmodules", "model.py")
    if not repo or not os.path.isfile(path):
        sys.exit(
            "set LDM_REPO to a checkout of CompVis/latent-diffusion (it must hold ldm/modules/diffusionmodules/model.py), e.g.\n"
            "  mkdir -p /tmp/ldm && git --git-dir=/work/.mirror/CompVis+latent-diffusion/repo archive HEAD ldm | tar -x -C /tmp/ldm\n"
            "  LDM_REPO=/tmp/ldm /usr/bin/python3 tools/make_vae_fixtures.py"
        )

    def unused(name):
        def fail(*args, **kwargs):
            raise RuntimeError(f"{name} is stubbed out: the VAE decoder should never call it")

        return fail

    stubs = {
        "einops": {"rearrange": unused("einops.rearrange"), "repeat": unused("einops.repeat")},
        "ldm.util": {"instantiate_from_config": unused("ldm.util.instantiate_from_config")},
        "ldm.modules.attention": {"LinearAttention": type("LinearAttention", (torch.nn.Module,), {"__init__": unused("LinearAttention")})},
    }
    for name, attrs in stubs.items():
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__dict__.update(attrs)
            sys.modules[name] = module
    spec = importlib.util.spec_from_file_location("ldm_diffusionmodules_model", path)
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    return model.Decoder


def build(Decoder, ch, ch_mult, num_res_blocks, z_channels, embed_dim, resolution):
    # The first-stage ddconfig of the kl-f8 autoencoder (models/first_stage_models/kl-f8/config.yaml),
    # scaled down by ch, ch_mult and num_res_blocks: no attention outside the mid block, no dropout.
    decoder = Decoder(
        ch=ch, out_ch=3, ch_mult=ch_mult, num_res_blocks=num_res_blocks, attn_resolutions=[], dropout=0.0,
        in_channels=3, resolution=resolution, z_channels=z_channels, double_z=True,
    )
    post_quant_conv = torch.nn.Conv2d(embed_dim, z_channels, 1)
    return decoder.eval(), post_quant_conv.eval()


def randomize(modules, seed, half):
    """Redraws every parameter (see Values in the docstring); with `half`, rounds them to float16 first."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in modules:
            for m in module.modules():
                if isinstance(m, torch.nn.Conv2d):
                    fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / fan_in**0.5)
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
                elif isinstance(m, torch.nn.GroupNorm):
                    m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=gen))
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
            if half:
                for p in module.parameters():
                    p.copy_(p.half().float())


def ldm_state_dict(decoder, post_quant_conv, ch, z_channels, dtype, seed):
    """A whole AutoencoderKL's state dict in the original layout: the decoder's tensors, plus stand-ins
    for the encoder, quant_conv and the loss, which a decoder must ignore."""
    gen = np.random.default_rng(seed)
    sd = OrderedDict()
    sd["encoder.conv_in.weight"] = gen.standard_normal((ch, 3, 3, 3)).astype(dtype)
    sd["encoder.conv_in.bias"] = gen.standard_normal(ch).astype(dtype)
    for name, t in decoder.state_dict().items():
        sd[f"decoder.{name}"] = t.numpy().astype(dtype)
    sd["loss.logvar"] = np.zeros((), dtype)
    sd["quant_conv.weight"] = gen.standard_normal((2 * z_channels, 2 * z_channels, 1, 1)).astype(dtype)
    sd["quant_conv.bias"] = gen.standard_normal(2 * z_channels).astype(dtype)
    for name, t in post_quant_conv.state_dict().items():
        sd[f"post_quant_conv.{name}"] = t.numpy().astype(dtype)
    return sd


def to_diffusers(sd, levels):
    """The renaming of diffusers' convert_ldm_vae_checkpoint (see the docstring), key by key."""
    out = OrderedDict()
    for name, t in sd.items():
        if name.startswith("loss."):
            continue
        new = name
        if name.startswith("decoder.up."):
            parts = name.split(".")
            level = int(parts[2])
            rest = ".".join(parts[3:]).replace("block.", "resnets.", 1).replace("upsample.", "upsamplers.0.", 1)
            new = f"decoder.up_blocks.{levels - 1 - level}.{rest}".replace("nin_shortcut", "conv_shortcut")
        elif name.startswith("decoder.mid.block_"):
            i = int(name[len("decoder.mid.block_")])
            new = f"decoder.mid_block.resnets.{i - 1}.{name.split('.', 3)[3]}"
        elif name.startswith("decoder.mid.attn_1."):
            leaf = name[len("decoder.mid.attn_1."):]
            part, kind = leaf.split(".")
            part = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}[part]
            new = f"decoder.mid_block.attentions.0.{part}.{kind}"
            if kind == "weight" and part != "group_norm":
                t = t[:, :, 0, 0]
        elif name.startswith("decoder.norm_out."):
            new = name.replace("decoder.norm_out.", "decoder.conv_norm_out.")
        out[new] = np.ascontiguousarray(t)
    return out


def decode(decoder, post_quant_conv, latents, dtype):
    z = torch.from_numpy(latents) / SCALE  # float32, as DiT's sample.py divides
    with torch.no_grad():
        d, p = decoder.to(dtype), post_quant_conv.to(dtype)
        return d(p(z.to(dtype))).numpy()


def rel(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b)) / np.max(np.abs(b)))


def make(Decoder, prefix, ch, ch_mult, num_res_blocks, latent_shape, half, seed):
    z_channels = latent_shape[1]
    resolution = latent_shape[2] * 2 ** (len(ch_mult) - 1)
    torch.manual_seed(seed)
    decoder, post_quant_conv = build(Decoder, ch, ch_mult, num_res_blocks, z_channels, z_channels, resolution)
    randomize([decoder, post_quant_conv], seed, half)
    latents = np.random.default_rng(seed + 1).standard_normal(latent_shape).astype(np.float32)
    expected = decode(decoder, post_quant_conv, latents, torch.float64)
    floor = rel(decode(decoder, post_quant_conv, latents, torch.float32), expected)

    dtype = np.float16 if half else np.float32
    ldm = ldm_state_dict(decoder.float(), post_quant_conv.float(), ch, z_channels, dtype, seed + 2)
    diffusers = to_diffusers(ldm, len(ch_mult))
    config = {"ch": ch, "ch_mult": ",".join(map(str, ch_mult)), "num_res_blocks": num_res_blocks, "z_channels": z_channels, "seed": seed}
    write_safetensors(f"{prefix}.ldm.safetensors", ldm, {**config, "layout": "latent-diffusion"})
    write_safetensors(f"{prefix}.diffusers.safetensors", diffusers, {**config, "layout": "diffusers"})
    write_safetensors(f"{prefix}.expected.safetensors", OrderedDict(latents=latents, images=expected.astype(np.float32)), {"scale": str(SCALE)})

    # Every file reads back as written, and the diffusers names map back onto the original ones.
    for suffix, sd in (("ldm", ldm), ("diffusers", diffusers)):
        back, _ = read_safetensors(f"{prefix}.{suffix}.safetensors")
        assert list(back) == list(sd) and all(np.array_equal(back[k], sd[k]) for k in sd), suffix
    assert len(diffusers) == len(ldm) - 1
    print(f"{prefix}: latents {list(latents.shape)} -> images {list(expected.shape)}, max |image| {np.max(np.abs(expected)):.3f}, "
          f"float32 PyTorch vs float64: {floor:.2e}")


def compare(expected_path, out_path):
    expected, _ = read_safetensors(expected_path)
    got, _ = read_safetensors(out_path)
    want = expected["images"].astype(np.float64)
    if got["images"].shape != want.shape:
        sys.exit(f"{out_path}: images {list(got['images'].shape)}, expected {list(want.shape)}")
    print(f"{out_path}: max |images - expected| / max |expected| = {rel(got['images'], want):.3e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", metavar="PREFIX", help="write the full Stable Diffusion config to PREFIX.* instead of the test fixtures")
    ap.add_argument("--latent-size", type=int, default=4, help="with --full: latents of this height and width (default 4)")
    ap.add_argument("--compare", nargs=2, metavar=("EXPECTED", "OUT"), help="print ditto's error on a full-config run")
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    torch.set_num_threads(os.cpu_count() or 1)
    Decoder = load_official_decoder()
    if args.full:
        make(Decoder, args.full, 128, (1, 2, 4, 4), 2, (1, 4, args.latent_size, args.latent_size), half=False, seed=1)
    else:
        make(Decoder, os.path.join(FIXTURES, "vae-c32-m12"), 32, (1, 2), 1, (2, 4, 6, 8), half=True, seed=0)


if __name__ == "__main__":
    main()
