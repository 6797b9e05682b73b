"""Build the cloud assembly's container images once, for every environment.

    python scripts/build_images.py cdk.out images.tar

The deploy workflow synthesizes once, builds each Docker image asset of the assembly here and
saves them all to one archive; every environment's job loads that archive before
`cdk deploy --app cdk.out`. The CDK CLI skips its own build when the image it would build
(`cdkasset-<asset id>`) is already there, so every environment pushes the same image (the same
image id) under the same content-hashed tag. Standard library only; needs Docker.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageAsset:
    """One Docker image asset of the assembly, as its asset manifest describes it."""

    asset_id: str
    directory: str
    platform: str | None = None
    dockerfile: str | None = None
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()

    @property
    def local_tag(self) -> str:
        """The tag the CDK CLI looks for before it builds the asset itself."""
        return f"cdkasset-{self.asset_id.lower()}"

    def build_command(self, assembly: Path) -> list[str]:
        command = ["docker", "build", "--tag", self.local_tag]
        if self.platform:
            command += ["--platform", self.platform]
        if self.dockerfile:
            command += ["--file", str(assembly / self.directory / self.dockerfile)]
        if self.target:
            command += ["--target", self.target]
        for name, value in self.build_args:
            command += ["--build-arg", f"{name}={value}"]
        return [*command, str(assembly / self.directory)]


def image_assets(assembly: Path) -> list[ImageAsset]:
    """Every distinct Docker image asset built from a directory (each environment's stacks
    list the same asset: one build serves them all)."""
    found: dict[str, ImageAsset] = {}
    for manifest in sorted(assembly.glob("*.assets.json")):
        for asset_id, entry in json.loads(manifest.read_text()).get("dockerImages", {}).items():
            source = entry["source"]
            if "directory" not in source:
                raise SystemExit(f"{manifest.name}: {asset_id} is not built from a directory")
            found.setdefault(
                asset_id,
                ImageAsset(
                    asset_id=asset_id,
                    directory=source["directory"],
                    platform=source.get("platform"),
                    dockerfile=source.get("dockerFile"),
                    target=source.get("dockerBuildTarget"),
                    build_args=tuple(sorted(source.get("dockerBuildArgs", {}).items())),
                ),
            )
    return list(found.values())


def main(arguments: list[str]) -> int:
    if len(arguments) != 2:
        print("usage: python scripts/build_images.py <cloud assembly> <archive.tar>")
        return 2
    assembly, archive = Path(arguments[0]), Path(arguments[1])
    assets = image_assets(assembly)
    if not assets:
        print(f"{assembly}: no Docker image assets")
        return 1
    for asset in assets:
        print(f"==> {asset.local_tag} from {asset.directory}", flush=True)
        subprocess.run(asset.build_command(assembly), check=True)
    tags = [asset.local_tag for asset in assets]
    subprocess.run(["docker", "save", "--output", str(archive), *tags], check=True)
    inspected = subprocess.run(
        ["docker", "image", "inspect", *tags], check=True, capture_output=True, text=True
    ).stdout
    for tag, image in zip(tags, json.loads(inspected), strict=True):
        print(f"{tag} {image['Id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
