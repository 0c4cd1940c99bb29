"""The table rows of Moser, Raue, Dengel 2024 (Tables 1-3), Cho, Jung, Cho, Soh 2025 and the rows beyond them, as
committed BasicSR option files generated from data (the recipes and rows beside this file)."""
