"""Reports of the results: the table rows' numbers collected from BasicSR's logs beside the papers' (``collect``),
rendered in the papers' layout, and the score figures of Moser, Raue, Dengel 2024."""
