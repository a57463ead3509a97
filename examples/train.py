"""Train the bundled building-segmentation U-Net and export it to ONNX.

Training data are made the way a user would make them: synthetic scenes from
make_scene.py (seeds other than the bundled held-out scene's, with terraced
rows of touching houses), rasterised with `geotile make-masks --channels ...`
and cut with `geotile tile`. The recipe follows the SpaceNet building reports
and winners: a U-Net with one sigmoid output channel per mask channel
(footprint, boundary, contact by default), BCE + Jaccard loss per channel,
Adam, flips and rotations. The channel names go into the ONNX metadata, so
`geotile predict` names the bands and `geotile vectorize` splits touching
buildings (--instances) on its own. Needs PyTorch, the CPU build is enough:
`pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu`.

    python examples/train.py --out my_unet.onnx
    python examples/train.py --init my_unet.onnx --lr 5e-4 --terraced 20 --seed 1 \
        --out my_unet_tuned.onnx   # fine-tune it

The shipped model came from three such --init runs (examples/README.md gives them).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from demo import geotile_command  # noqa: E402
from make_scene import write_scene  # noqa: E402

MEAN, STD = [0.45, 0.45, 0.42], [0.2, 0.2, 0.2]  # in [0, 1] units, as Deepness expects
CHANNELS = ("footprint", "boundary", "contact")  # what geotile make-masks can burn


def block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
    )


class UNet(nn.Module):
    """A 4-level U-Net (16-32-64-128 channels) ending in one sigmoid per output channel:
    ~0.5 M parameters."""

    def __init__(self, widths=(16, 32, 64, 128), outputs: int = 1) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        cin = 3
        for width in widths:
            self.down.append(block(cin, width))
            cin = width
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, width, 2, stride=2))
            self.merge.append(block(2 * width, width))
            cin = width
        self.head = nn.Conv2d(cin, outputs, 1)

    def forward(self, x):
        skips = []
        for i, layer in enumerate(self.down):
            x = layer(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return torch.sigmoid(self.head(x))


def geotile(*args) -> None:
    subprocess.run([*geotile_command(), "-q", *map(str, args)], check=True)


def make_patches(work: Path, seeds: list[int], size: int, channels: list[str],
                 terraced: int) -> tuple[np.ndarray, np.ndarray]:
    """Scenes -> geotile make-masks -> geotile tile -> arrays (N, 3, s, s), (N, C, s, s)."""
    images, masks = [], []
    for seed in seeds:
        tif, footprints = write_scene(seed, 1024, work / f"scene_{seed}", terraced)
        geotile("make-masks", footprints, tif, "-o", work / f"mask_{seed}.tif",
                "--channels", ",".join(channels), "--overwrite")
        out = work / f"patches_{seed}"
        geotile("tile", tif, "--masks", work / f"mask_{seed}.tif", "--size", size,
                "--overlap", size // 4, "-o", out, "--overwrite")
        with (out / "index.csv").open() as handle:
            for row in csv.DictReader(handle):
                with rasterio.open(out / row["image"]) as src:
                    images.append(src.read())
                with rasterio.open(out / row["mask"]) as src:
                    masks.append(src.read())
    return np.stack(images), np.stack(masks)


def augment(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    k = int(torch.randint(0, 4, ()))
    x, y = torch.rot90(x, k, (2, 3)), torch.rot90(y, k, (2, 3))
    if torch.rand(()) < 0.5:
        x, y = x.flip(3), y.flip(3)
    return x, y


def loss_fn(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """BCE + (1 - soft Jaccard), each channel on its own, summed over channels."""
    total = p.new_zeros(())
    for c in range(p.shape[1]):
        pc, yc = p[:, c], y[:, c]
        bce = nn.functional.binary_cross_entropy(pc.clamp(1e-6, 1 - 1e-6), yc)
        intersection = (pc * yc).sum()
        jaccard = (intersection + 1) / (pc.sum() + yc.sum() - intersection + 1)
        total = total + bce + (1 - jaccard)
    return total


def exported_channels(proto) -> list[str] | None:
    """The mask channels of a model this script exported, from its class_names metadata
    (a one-class 'building' model is the footprint channel); None when it names none."""
    names = {p.key: p.value for p in proto.metadata_props}.get("class_names")
    try:
        names = json.loads(names) if names else None
        names = [names[k] for k in sorted(names, key=int)] if isinstance(names, dict) else None
    except (ValueError, TypeError):
        return None
    return ["footprint"] if names == ["building"] else names


def load_exported(model: UNet, path: Path, channels: list[str] | None = None) -> None:
    """Start from the weights of a model this script exported (same widths): its convolutions
    carry the BatchNorms folded in, so every BatchNorm here becomes the identity plus that
    bias, and stays frozen (see ``freeze_norms``). Each output channel in ``channels`` takes
    the head of the exported channel of that name (by position when either side names
    none); the others keep their fresh initialisation."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    previous = exported_channels(proto)
    if channels is None or previous is None:  # by position
        head_rows = {i: i for i in range(len(model.head.weight))}
    else:
        head_rows = {i: previous.index(c) for i, c in enumerate(channels) if c in previous}
    weights = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    for node in proto.graph.node:  # equal weights are shared through Identity nodes
        if node.op_type == "Identity" and node.input[0] in weights:
            weights[node.output[0]] = weights[node.input[0]]
    nodes = [n for n in proto.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    def convs(module):
        return [m for m in module.modules() if isinstance(m, nn.Conv2d)]

    layers = [c for block in model.down for c in convs(block)]  # in forward (graph) order
    for up, merge in zip(model.up, model.merge, strict=True):
        layers += [up, *convs(merge)]
    layers.append(model.head)
    norms = {id(m): None for m in layers}
    for module in model.modules():  # the BatchNorm after each convolution of a block
        if isinstance(module, nn.Sequential):
            for conv, norm in zip(list(module)[0::3], list(module)[1::3], strict=True):
                norms[id(conv)] = norm
    if len(nodes) != len(layers):
        sys.exit(f"{path}: {len(nodes)} convolutions, this U-Net has {len(layers)}")
    with torch.no_grad():
        for node, layer in zip(nodes, layers, strict=True):
            weight = torch.from_numpy(weights[node.input[1]].copy())
            bias = torch.from_numpy(weights[node.input[2]].copy())
            if weight.shape[1:] != layer.weight.shape[1:]:
                sys.exit(f"{path}: layer shapes differ from this U-Net's")
            if layer is model.head:
                for row, source in head_rows.items():
                    if source < len(weight):
                        layer.weight[row] = weight[source]
                        layer.bias[row] = bias[source]
                continue
            layer.weight[: len(weight)] = weight
            norm = norms[id(layer)]
            if norm is None:
                layer.bias[: len(bias)] = bias
            else:
                norm.weight.fill_(1.0)
                norm.bias.copy_(bias)
                norm.running_mean.zero_()
                norm.running_var.fill_(1.0 - norm.eps)


def freeze_norms(model: nn.Module) -> None:
    """BatchNorms use their stored statistics (after ``load_exported``), even in training."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def export(model: nn.Module, path: Path, tile_size: int, channels: list[str]) -> None:
    import onnx

    model.eval()
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, tile_size, tile_size), str(tmp),
                      input_names=["image"], output_names=["buildings"], opset_version=17,
                      dynamic_axes={"image": {0: "N", 2: "H", 3: "W"},
                                    "buildings": {0: "N", 2: "H", 3: "W"}},
                      dynamo=False)
    proto = onnx.load(str(tmp))
    proto.ir_version = 8  # readable by ONNX Runtime 1.14 and newer
    names = {str(i): name for i, name in enumerate(channels)}
    if channels == ["footprint"]:
        names = {"0": "building"}
    metadata = {"model_type": "Segmentor", "class_names": names,
                "tile_size": tile_size, "tiles_overlap": 50, "resolution": 40,
                "standardization_mean": MEAN, "standardization_std": STD, "seg_thresh": 0.5,
                "activation": "none"}
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value) if not isinstance(value, str) else value
    onnx.save(proto, str(path))
    tmp.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("buildings_unet.onnx"),
                        help="ONNX file to write (default: ./buildings_unet.onnx; the shipped "
                        "model is only replaced when named here with --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for scenes and patches (default: a temporary folder, "
                        "removed at the end; a folder given here is kept)")
    parser.add_argument("--scenes", type=int, default=6, help="training scenes (default 6)")
    parser.add_argument("--epochs", type=int, default=12, help="epochs (default 12)")
    parser.add_argument("--channels", default=",".join(CHANNELS),
                        help="mask channels to learn, one sigmoid output each, from "
                        f"{','.join(CHANNELS)} (default: all three; footprint alone gives a "
                        "one-class 'building' model)")
    parser.add_argument("--terraced", type=int, default=6, metavar="N",
                        help="rows of touching houses per 1024 px training scene (default 6)")
    parser.add_argument("--init", type=Path, default=None, metavar="ONNX",
                        help="fine-tune from a model this script exported instead of from "
                        "scratch (each channel takes the head of the channel of its name; a "
                        "one-channel 'building' model's head seeds footprint)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1),
                        help="PyTorch CPU threads (default: up to 4)")
    parser.add_argument("--crop", type=int, default=128, help="random crop in px (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights, "
                        "patch order, crops and augmentation (default 0)")
    args = parser.parse_args()
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    if not channels or any(c not in CHANNELS for c in channels) or len(set(channels)) < len(
            channels):
        parser.error(f"--channels {args.channels!r}: give distinct names from "
                     f"{','.join(CHANNELS)}")
    if args.scenes < 1:
        parser.error(f"--scenes {args.scenes}: give at least 1")
    if not 8 <= args.crop <= 256 or args.crop % 8:
        parser.error(f"--crop {args.crop}: give a multiple of 8 (the U-Net halves it three "
                     "times) from 8 to 256 (the patch size)")
    if args.init is not None and not args.init.is_file():
        parser.error(f"--init {args.init}: no such file")
    if args.out.exists() and not args.overwrite:
        parser.error(f"{args.out} exists: give another --out, or --overwrite to replace it")
    temporary_work = args.work is None
    if temporary_work:
        args.work = Path(tempfile.mkdtemp(prefix="geotile-train-"))
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, args.threads))
    args.work.mkdir(parents=True, exist_ok=True)
    seeds = [100 + i for i in range(args.scenes)]  # the bundled scene uses seed 7
    images, masks = make_patches(args.work, seeds, 256, channels, args.terraced)
    print(f"{len(images)} patches of 256 px from {len(seeds)} scenes")
    x_all = torch.from_numpy(images).float() / 255
    x_all = (x_all - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    masks = np.where(masks > 1, 0, masks)  # 255: ignore (padding), not a building
    y_all = torch.from_numpy(masks[:, : len(channels)]).float()
    model = UNet(outputs=len(channels))
    if args.init is not None:
        load_exported(model, args.init, channels)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, args.epochs)
    started = time.time()
    for epoch in range(args.epochs):
        model.train()
        if args.init is not None:
            freeze_norms(model)
        order = torch.randperm(len(x_all))
        total = 0.0
        for start in range(0, len(order), 16):
            index = order[start : start + 16]
            oy, ox = torch.randint(0, 256 - args.crop + 1, (2,)).tolist()  # --seed decides
            x = x_all[index][:, :, oy : oy + args.crop, ox : ox + args.crop]
            y = y_all[index][:, :, oy : oy + args.crop, ox : ox + args.crop]
            x, y = augment(x, y)
            loss = loss_fn(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
        schedule.step()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(order):.4f} "
              f"({time.time() - started:.0f} s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export(model, args.out, 256, channels)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.2f} MB, {time.time() - started:.0f} s")
    if temporary_work:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
