"""Report renderers, registered explicitly by format."""
