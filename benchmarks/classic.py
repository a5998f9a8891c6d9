"""The notebooks' MNIST pipeline (PIL rotation, DataLoader, batch 128), the speed baseline.

Usage: python benchmarks/classic.py --data ../shared/data [--epochs 12] [--target 99.4]

Trains the step-7 network mnistlite builds, so a comparison measures the pipeline alone;
prints ``classic epoch E: test A% at S s`` after each epoch.
"""

import argparse
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from mnistlite import models


def loader(root: str, train: bool, workers: int) -> DataLoader:
    """The notebooks' train (rotated, shuffled) or test loader, batch 128."""
    steps = [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    if train:
        steps.insert(0, transforms.RandomRotation((-7.0, 7.0), fill=(1,)))
    dataset = datasets.MNIST(root, train=train, transform=transforms.Compose(steps))
    return DataLoader(dataset, batch_size=128, shuffle=train, num_workers=workers,
                      persistent_workers=workers > 0)  # fmt: skip


def run(root: str, epochs: int, workers: int = 2, target: float | None = None) -> None:
    """Train step 7 the classic way from seed 1, stopping early at ``target`` test accuracy."""
    start = time.perf_counter()
    torch.manual_seed(1)
    model = models.step7()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)
    train, test = loader(root, True, workers), loader(root, False, workers)
    for epoch in range(1, epochs + 1):
        model.train()
        for data, target_ in train:
            optimizer.zero_grad()
            F.nll_loss(F.log_softmax(model(data), dim=1), target_).backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            correct = sum(model(x).argmax(1).eq(y).sum().item() for x, y in test)
        acc = 100.0 * correct / len(test.dataset)
        print(f"classic epoch {epoch}: test {acc:.2f}% at {time.perf_counter() - start:.1f} s",
              flush=True)  # fmt: skip
        if target is not None and acc >= target:
            break


def last_epoch(stdout: str) -> tuple[int, float]:
    """The last epoch and its test accuracy, from what :func:`run` printed."""
    words = stdout.strip().splitlines()[-1].split()  # classic epoch 11: test 99.42% at 497.5 s
    return int(words[2].rstrip(":")), float(words[4].rstrip("%"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train step 7 through the classic pipeline.")
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--target", type=float, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run(args.data, args.epochs, workers=args.workers, target=args.target)
