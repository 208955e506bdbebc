"""The DNNs as torch modules (architecture only, no weights): NETWORKS, in dnn_type order.

Used to build the layer table of dnn_profiles (eqs. (8), (9)) and by the UAV
node's option to run the real tail layers on real tensors. Torch is imported
only here, so the model itself needs numpy alone. A new DNN is one more entry of
NETWORKS (then regenerate the table: `python -m uav_mec_nodes.model.dnn_profiles`).
"""
from functools import partial
from typing import Callable, Dict, List

import torch
from torch import nn

# Channel plans of Simonyan & Zisserman (2015), 'M' = 2x2 max-pool.
VGG_PLANS = {
    'vgg13': [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
    'vgg16': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
}


def _classifier(in_features: int, num_classes: int) -> List[nn.Module]:
    return [nn.Dropout(), nn.Linear(in_features, 4096), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes)]


def alexnet(num_classes: int = 1000) -> nn.Sequential:
    """AlexNet as in torchvision (Krizhevsky 2014 'one weird trick' variant): 5 conv + 3 FC."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(),
        *_classifier(256 * 6 * 6, num_classes))


def vgg(name: str, num_classes: int = 1000) -> nn.Sequential:
    layers: List[nn.Module] = []
    channels = 3
    for item in VGG_PLANS[name]:
        if item == 'M':
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    layers += [nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(), *_classifier(512 * 7 * 7, num_classes)]
    return nn.Sequential(*layers)


# name -> builder; the order is dnn_type's (k = 0, 1, 2: the paper's AlexNet, VGG16, VGG13)
NETWORKS: Dict[str, Callable[[], nn.Sequential]] = {
    'alexnet': alexnet, 'vgg16': partial(vgg, 'vgg16'), 'vgg13': partial(vgg, 'vgg13')}


def build(name: str) -> nn.Sequential:
    """The network `name` of NETWORKS, in eval mode."""
    return NETWORKS[name]().eval()


def layer_blocks(net: nn.Sequential) -> List[nn.Sequential]:
    """Split `net` into one block per Conv/FC layer: block l holds layer l and the
    FLOP-free modules (ReLU, pooling, flatten, dropout) that follow it, except
    that modules before the first layer join block 1. Running blocks phi..L on
    the input of layer phi gives the network's output (the UAV's share)."""
    blocks: List[List[nn.Module]] = []
    pending: List[nn.Module] = []
    for module in net:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            blocks.append(pending + [module])
            pending = []
        elif blocks:
            blocks[-1].append(module)
        else:
            pending.append(module)
    return [nn.Sequential(*b) for b in blocks]


def input_shape() -> torch.Size:
    return torch.Size((1, 3, 224, 224))


class TailRunner:
    """Runs layers phi..L_k of a DNN on the tensor its head layers 1..phi-1 make of a random image, as a UAV
    computes an offloaded task. Random weights (no downloads): the point is the real tensor shapes and compute."""

    def __init__(self):
        self.blocks: dict = {}
        self.layers_run = 0

    def run(self, name: str, partition_layer: int) -> None:
        if name not in self.blocks:
            self.blocks[name] = layer_blocks(build(name))
        blocks = self.blocks[name]
        with torch.no_grad():
            x = torch.randn(input_shape())
            for block in blocks[:partition_layer - 1]:
                x = block(x)
            for block in blocks[partition_layer - 1:]:
                x = block(x)
        self.layers_run += len(blocks) - partition_layer + 1
