"""``tgan-aug models``: the shipped models (the model zoo) and their cards."""

from __future__ import annotations

import json

import click


@click.command("models")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON (name, modality, trained_on, licence, sha256, size_mb, figures, ...).")
def models(name: str | None, as_json: bool) -> None:
    """List the models shipped inside the package, or print the card of model NAME.

    Each model carries its weights, a card (training data, licence, realism figures against the
    painter on held-back frames), a strip of real vs rendered frames, and the shape bank and
    motion statistics of its data (for 'synth-masks --like NAME').

    \b
    Example:
      tgan-aug models
      tgan-aug models --json
      tgan-aug models hela-small
      tgan-aug render masks.zarr -o video.zarr --model hela-small
    """
    from tgan_aug.pretrained import model_card, model_entry, models_summary, models_table

    if name is not None:
        entry = model_entry(name, flag="NAME")
        click.echo(json.dumps({"name": name, **entry}, indent=2) if as_json else model_card(name))
        return
    click.echo(json.dumps(models_summary(), indent=2) if as_json else models_table())
