"""The classic MNIST pipeline of the seed's notebooks, kept as the speed baseline.

Usage: python benchmarks/classic.py --data ../shared/data [--epochs 12] [--target 99.4]
(``epoch_time.py`` and ``time_to_accuracy.py`` run it; it writes nothing itself.)

torchvision's MNIST dataset with a per-sample PIL ``RandomRotation`` (step 7: ±7°, fill 1),
``ToTensor`` and ``Normalize``, served by a ``DataLoader`` in batches of 128; training and
test loops written as in the notebooks (log_softmax + NLL, running train accuracy, StepLR
stepped once per epoch). The network is the same step-7 network mnistlite builds, so the
comparison measures the pipeline alone.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from mnistlite import models


def loader(root: str, train: bool, workers: int) -> DataLoader:
    """The seed's train (rotated, shuffled) or test loader, batch 128."""
    steps = [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    if train:
        steps.insert(0, transforms.RandomRotation((-7.0, 7.0), fill=(1,)))
    dataset = datasets.MNIST(root, train=train, transform=transforms.Compose(steps))
    return DataLoader(dataset, batch_size=128, shuffle=train, num_workers=workers,
                      persistent_workers=workers > 0)  # fmt: skip


def train_epoch(model, loader, optimizer) -> float:
    """One training epoch as in the notebooks; returns the running train accuracy."""
    model.train()
    correct = processed = 0
    for data, target in loader:
        optimizer.zero_grad()
        y_pred = model(data)
        loss = F.nll_loss(F.log_softmax(y_pred, dim=1), target)
        loss.backward()
        optimizer.step()
        correct += y_pred.argmax(dim=1).eq(target).sum().item()
        processed += len(data)
    return 100.0 * correct / processed


def test_epoch(model, loader) -> float:
    """The notebooks' test pass; returns test accuracy in percent."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in loader:
            correct += model(data).argmax(dim=1).eq(target).sum().item()
    return 100.0 * correct / len(loader.dataset)


def run(root: str, epochs: int, workers: int = 2, seed: int = 1, target: float | None = None):
    """Train step 7 the classic way, stopping early at ``target`` test accuracy."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = models.step7()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)
    train, test = loader(root, True, workers), loader(root, False, workers)
    for epoch in range(1, epochs + 1):
        train_epoch(model, train, optimizer)
        scheduler.step()
        acc = test_epoch(model, test)
        print(f"classic epoch {epoch}: test {acc:.2f}% at {time.perf_counter() - start:.1f} s",
              flush=True)  # fmt: skip
        if target is not None and acc >= target:
            break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train step 7 through the classic pipeline.")
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--target", type=float, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run(args.data, args.epochs, workers=args.workers, target=args.target)
