"""What a run keeps: result files and their schema checks, run folders, history, the verdict vocabulary."""
