"""History of generated images (Shrivastava et al. 2017), as used by CycleGAN to steady the discriminators."""

from __future__ import annotations

import torch


class ImagePool:
    """Keeps up to `size` past fakes; `query` returns a mix of new and stored fakes for the discriminator.

    Until the pool is full every new image is stored and returned. Afterwards each new image is, with
    probability 1/2, swapped for a random stored one (which is returned, the new one taking its place), or
    returned as is. `size=0` turns the pool off. The pool owns its random generator, and `state_dict` holds the
    stored images and that generator's state, so a resumed run draws exactly what an uninterrupted one would.
    """

    def __init__(self, size: int = 50, seed: int = 0):
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator) < 0.5:
                i = int(torch.randint(len(self.images), (), generator=self.generator))
                out.append(self.images[i].to(image.device, image.dtype))
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out)

    def state_dict(self) -> dict:
        # Plain tensors only, so a checkpoint with the pool still loads with weights_only=True.
        stored = torch.cat(self.images).cpu() if self.images else torch.empty(0)
        return {"size": self.size, "images": stored, "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        self.size = int(state["size"])
        self.images = [im.unsqueeze(0).to(device) for im in state["images"]] if state["images"].numel() else []
        self.generator.set_state(state["rng"])
