"""Rendering tracked masks into video: sharding, tiling, and (with a checkpoint) the generators."""
