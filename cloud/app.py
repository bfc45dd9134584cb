"""SkyCam cloud relay (Chalice). Skeleton: the relay's routes arrive with their issue.

Shape to keep (docs/ARCHITECTURE.md): this module holds only routes, authorizers and lazy
getters; the logic lives in chalicelib/<domain>/; boto3 stays behind typed wrappers.
"""

from chalice import Chalice

app = Chalice(app_name="skycam-relay")
