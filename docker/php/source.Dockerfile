# The app's source directory (config appPath) as an image of its own, which the app image
# (Dockerfile, beside this file) copies as APP_SOURCE: pulumi-docker builds it with the app
# as its context, and what the app's .dockerignore excludes stays out.
FROM scratch
COPY . /
