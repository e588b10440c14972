"""An example cooperbench backend plugin."""
