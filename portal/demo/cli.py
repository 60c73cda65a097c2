"""(skeleton — being implemented)"""
import click


@click.command("seed-demo")
def seed_demo_command():
    """Load the demo data set."""
