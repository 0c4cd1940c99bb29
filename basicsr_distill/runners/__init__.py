"""The workflows that run trainings: the multi-seed CPU study (``study/``) and the launcher of the table rows over
one machine's GPUs (``table_launch``)."""
