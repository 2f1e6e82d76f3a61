"""content_template wins over content and can use every field, `class_` included."""

from miniagents import TextMessage

print(str(TextMessage("content", content_template="template {x}", x=1)))
print(str(TextMessage(content_template="{class_}: {x}", x=2)))
print(str(TextMessage("just content")))
