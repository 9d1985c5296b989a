"""Figures drawn from records: the report's charts and the samples a cell keeps."""
