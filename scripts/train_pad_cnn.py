"""The small CNN of the passive PAD model: its network, augmentation, training on the CPU with
PyTorch and its export to ONNX (used by train_pad_texture.py; PyTorch is needed only here, never at
run time, where OpenCV's dnn module runs the exported file).

    .venv/bin/pip install torch==2.13.0   # CPU wheel; training only

The network sees the runtime's 192 px face crop (facetrust.liveness.texture.face_crop) resized to
``INPUT`` px with INTER_AREA, BGR, scaled to (x / 255 - 0.5) / 0.25: exactly what
``facetrust.liveness.texture.CNNTextureModel`` does.
"""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
import torch
from torch import nn

INPUT = 64  # network input side, px
AUG_SIDE = 96  # augmentation works on the crop resized to this side (cheaper than the 192 px crop)
WIDTH = 12  # channels of the first layer (doubling at each stride-2 stage)
EPOCHS = 10
SAMPLES_PER_EPOCH = 1024  # drawn with the sample weights, with replacement
BATCH = 64
LR = 3e-3
WEIGHT_DECAY = 5e-4
MEAN, STD = 0.5, 0.25


def network(width: int = WIDTH) -> nn.Module:
    """Six 3x3 conv + BN + ReLU layers (four with stride 2; widths w, 2w, 2w, 4w, 4w, 8w), global
    average pooling, dropout and a linear layer (the exported file adds the sigmoid): a texture
    model with a small receptive field, about 82 k parameters at w = 12."""

    def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    w = width
    return nn.Sequential(
        *block(3, w, 2),
        *block(w, 2 * w, 2),
        *block(2 * w, 2 * w, 1),
        *block(2 * w, 4 * w, 2),
        *block(4 * w, 4 * w, 1),
        *block(4 * w, 8 * w, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(8 * w, 1),
    )


def to_input(crop: np.ndarray, size: int = INPUT) -> np.ndarray:
    """192 px BGR crop -> network input (float32, HWC), as the runtime makes it."""
    small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return (small.astype(np.float32) / 255.0 - MEAN) / STD


def augment(crop: np.ndarray, rng: np.random.Generator, size: int = INPUT) -> np.ndarray:
    """One random variant of a crop (AUG_SIDE px), for either class alike: framing, a camera's colour and
    exposure, and the losses of cheaper capture chains (lower resolution, blur, noise, JPEG), so
    that the network cannot use them as cues and must find the re-capture traces that survive them."""
    side = crop.shape[0]
    s = int(round(side * rng.uniform(0.86, 1.0)))
    x0, y0 = (int(rng.integers(0, side - s + 1)) for _ in range(2))
    img = crop[y0 : y0 + s, x0 : x0 + s]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    img = np.ascontiguousarray(img)
    if rng.random() < 0.4:  # a lower-resolution capture enlarged into the crop
        f = rng.uniform(0.3, 0.85)
        small = cv2.resize(img, (max(8, int(s * f)),) * 2, interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (s, s), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.05:  # a camera or a photo without colour
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    x = img.astype(np.float32)
    if rng.random() < 0.8:  # exposure, white balance, gamma
        x = x * rng.uniform(0.75, 1.25) * rng.uniform(0.92, 1.08, 3).astype(np.float32)
        x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** rng.uniform(0.8, 1.25)
    if rng.random() < 0.3:
        x = x + rng.normal(0.0, rng.uniform(1.0, 6.0), x.shape).astype(np.float32)
    img = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 91))])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return (small.astype(np.float32) / 255.0 - MEAN) / STD


class Trained:
    def __init__(self, model: nn.Module) -> None:
        self.model = model.eval()

    def scores(self, crops: np.ndarray, batch: int = 256) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(crops), batch):
                x = np.stack([to_input(c) for c in crops[i : i + batch]]).transpose(0, 3, 1, 2)
                out.append(torch.sigmoid(self.model(torch.from_numpy(np.ascontiguousarray(x)))).numpy()[:, 0])
        return np.concatenate(out) if out else np.zeros(0)


def fit(crops: np.ndarray, y: np.ndarray, weights: np.ndarray, seed: int, log=None) -> Trained:
    """Train on ``crops`` (N x 192 x 192 x 3) with labels ``y`` (1 = attack); each epoch draws
    SAMPLES_PER_EPOCH crops with probability proportional to ``weights``. Deterministic for a seed
    (and a thread count)."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(seed)
    crops = np.stack([cv2.resize(c, (AUG_SIDE, AUG_SIDE), interpolation=cv2.INTER_AREA) for c in crops])
    model = network()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps = EPOCHS * (SAMPLES_PER_EPOCH // BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps))
    )
    p = weights / weights.sum()
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()
    for epoch in range(EPOCHS):
        draw = rng.choice(len(crops), size=SAMPLES_PER_EPOCH, p=p)
        total = 0.0
        for b in range(0, SAMPLES_PER_EPOCH - BATCH + 1, BATCH):
            idx = draw[b : b + BATCH]
            x = np.stack([augment(crops[i], rng) for i in idx]).transpose(0, 3, 1, 2)
            xt = torch.from_numpy(np.ascontiguousarray(x))
            yt = torch.from_numpy(y[idx].astype(np.float32))[:, None]
            opt.zero_grad()
            loss = loss_fn(model(xt), yt)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if log:
            log(f"      epoch {epoch + 1:2d}/{EPOCHS} loss {total / SAMPLES_PER_EPOCH:.4f}")
    return Trained(model)


def export_onnx(trained: Trained) -> bytes:
    """The network with its sigmoid as ONNX (opset 17, dynamic batch), for cv2.dnn.

    torch's TorchScript-based exporter calls the ``onnx`` package only to insert custom onnxscript
    functions; this graph has none, so that step is skipped instead of adding a dependency."""
    from torch.onnx._internal.torchscript_exporter import onnx_proto_utils

    onnx_proto_utils._add_onnxscript_fn = lambda model_bytes, custom_opsets: model_bytes
    model = nn.Sequential(trained.model, nn.Sigmoid()).eval()
    buf = io.BytesIO()
    torch.onnx.export(
        model,
        torch.zeros(1, 3, INPUT, INPUT),
        buf,
        input_names=["crop"],
        output_names=["attack"],
        opset_version=17,
        dynamo=False,
        dynamic_axes={"crop": {0: "n"}, "attack": {0: "n"}},
        do_constant_folding=True,
    )
    return buf.getvalue()
