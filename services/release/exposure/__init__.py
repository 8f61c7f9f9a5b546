"""A party's exposure report: what each of its roles can see or do, and what it looked up."""
