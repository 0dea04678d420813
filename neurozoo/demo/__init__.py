"""A static web page that runs an exported neurozoo model in the browser (``neurozoo demo``).

    from neurozoo.demo.site import build_site
    print(build_site("baseline-resnet18-cifar10", "demo-site", ort_dir="node_modules/onnxruntime-web/dist").summary())

``site`` builds the page (it imports onnxruntime to check the model); ``ort`` pins onnxruntime-web
and stays light, so building the ``neurozoo`` command's parser imports nothing heavy.
"""
