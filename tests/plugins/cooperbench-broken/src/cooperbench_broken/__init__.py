"""A deliberately broken cooperbench plugin."""
