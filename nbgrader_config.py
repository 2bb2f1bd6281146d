"""nbgrader settings for the course; the repository root is the nbgrader course directory."""
c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "pytorch-course"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# reference weights live beside the source notebook for validation; they must never be released
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.pth"]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.enforce_metadata = True
