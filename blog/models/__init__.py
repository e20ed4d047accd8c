"""The data model: one module per entity, re-exported here."""
from blog.models.activity import Activity
from blog.models.activity import PostViewDay
from blog.models.base import utcnow
from blog.models.comment import Comment
from blog.models.importrun import ImportRun
from blog.models.mail import MailMessage
from blog.models.media import Media
from blog.models.media import media_usage
from blog.models.post import Post
from blog.models.post import ImportedItem
from blog.models.post import PostRedirect
from blog.models.post import Redirect
from blog.models.revision import PostRevision
from blog.models.post import post_tags
from blog.models.taxonomy import Category
from blog.models.taxonomy import Tag
from blog.models.subscription import DigestRun
from blog.models.subscription import PostAnnouncement
from blog.models.subscription import Subscriber
from blog.models.subscription import SubscriptionDelivery
from blog.models.token import ApiToken
from blog.models.user import User

__all__ = ["Activity", "ApiToken", "Category", "Comment", "DigestRun", "ImportedItem", "ImportRun", "MailMessage", "Media", "Post",
           "PostAnnouncement", "PostRedirect", "PostRevision", "PostViewDay", "Redirect", "Subscriber", "SubscriptionDelivery", "Tag",
           "User", "media_usage", "post_tags", "utcnow"]
